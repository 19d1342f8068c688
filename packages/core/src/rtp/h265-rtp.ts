import { splitAnnexB } from '../media/h264.js';
import { H265_NAL, h265NalType, isH265Irap } from '../media/h265.js';
import type { EncodedFrame } from '../media/types.js';
import { RTP_HEADER, RtpWriter, type PacketizerOptions, type RtpPacketizer } from './h264-rtp.js';

/**
 * RFC 7798 packetisation (no DONL: `sprop-max-don-diff` is 0): single NAL unit packets, one
 * aggregation packet (AP) for the VPS, SPS and PPS of a keyframe, fragmentation units (FU) for
 * NALs larger than the MTU, marker bit on the last packet of an access unit. Parameter sets go
 * before every IRAP picture that lacks them, so a reader can join at any keyframe. One instance per
 * stream, shared by every reader.
 */
export class H265Packetizer implements RtpPacketizer {
  private readonly mtu: number;
  private readonly writer: RtpWriter;
  private params: { vps?: Buffer; sps?: Buffer; pps?: Buffer } = {};

  constructor(private readonly opts: PacketizerOptions) {
    this.mtu = opts.mtu ?? 1200;
    // An FU needs the RTP header, the two-byte payload header, the FU header and one byte of the NAL.
    if (!(this.mtu >= RTP_HEADER + 4)) throw new RangeError(`H265Packetizer: mtu ${this.mtu} is too small (at least ${RTP_HEADER + 4})`);
    this.writer = opts.writer ?? new RtpWriter(opts.ssrc, opts.initialSequence);
  }

  get payloadType(): number {
    return this.opts.payloadType;
  }

  packetize(frame: EncodedFrame): Buffer[] {
    let nals = splitAnnexB(frame.data).filter((n) => n.length >= 2 && h265NalType(n) !== H265_NAL.AUD);
    for (const n of nals) {
      const t = h265NalType(n);
      if (t === H265_NAL.VPS) this.params.vps = n;
      else if (t === H265_NAL.SPS) this.params.sps = n;
      else if (t === H265_NAL.PPS) this.params.pps = n;
    }
    const { vps, sps, pps } = this.params;
    if (frame.keyframe && vps && sps && pps && nals.some((n) => isH265Irap(h265NalType(n))) && !nals.some((n) => h265NalType(n) === H265_NAL.SPS)) {
      nals = [vps, sps, pps, ...nals];
    }
    const out: Buffer[] = [];
    const max = this.mtu - RTP_HEADER;
    // Leading parameter sets travel together in one AP when they fit (RFC 7798 §4.4.2).
    let i = 0;
    let apBytes = 2;
    while (i < nals.length && isParameterSet(nals[i]!) && apBytes + 2 + nals[i]!.length <= max) apBytes += 2 + nals[i++]!.length;
    if (i >= 2) {
      out.push(this.packet(frame.rtpTimestamp, i === nals.length, aggregationPacket(nals.slice(0, i))));
      nals = nals.slice(i);
    }
    nals.forEach((nal, k) => {
      const lastNal = k === nals.length - 1;
      if (nal.length <= max) {
        out.push(this.packet(frame.rtpTimestamp, lastNal, nal));
        return;
      }
      // FU payload header: the NAL's header with type 49 (F, LayerId and TID kept); FU header: S, E, type.
      const header = Buffer.from([(nal[0]! & 0x81) | (H265_NAL.FU << 1), nal[1]!]);
      const type = h265NalType(nal);
      const chunk = max - 3;
      for (let off = 2; off < nal.length; off += chunk) {
        const end = Math.min(off + chunk, nal.length);
        const fu = Buffer.from([(off === 2 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type]);
        out.push(this.packet(frame.rtpTimestamp, lastNal && end === nal.length, header, fu, nal.subarray(off, end)));
      }
    });
    return out;
  }

  private packet(timestamp: number, marker: boolean, ...payload: Buffer[]): Buffer {
    return this.writer.packet(this.opts.payloadType, timestamp, marker, ...payload);
  }
}

function isParameterSet(nal: Buffer): boolean {
  const t = h265NalType(nal);
  return t === H265_NAL.VPS || t === H265_NAL.SPS || t === H265_NAL.PPS;
}

/** An AP: payload header (type 48, F the OR of the NALs', lowest LayerId and TID), then each NAL after its 16-bit size. */
function aggregationPacket(nals: Buffer[]): Buffer {
  let f = 0;
  let layer = 63;
  let tid = 7;
  for (const n of nals) {
    f |= n[0]! & 0x80;
    layer = Math.min(layer, ((n[0]! & 1) << 5) | (n[1]! >> 3));
    tid = Math.min(tid, n[1]! & 7);
  }
  const parts: Buffer[] = [Buffer.from([f | (H265_NAL.AP << 1) | (layer >> 5), ((layer & 0x1f) << 3) | tid])];
  for (const n of nals) {
    const size = Buffer.allocUnsafe(2);
    size.writeUInt16BE(n.length, 0);
    parts.push(size, n);
  }
  return Buffer.concat(parts);
}

/** Reassembles RFC 7798 packets into an Annex-B stream (tests, and receivers of camd's own RTP). */
export function depacketizeH265(packets: Buffer[]): Buffer {
  const sc = Buffer.from([0, 0, 0, 1]);
  const out: Buffer[] = [];
  let fu: Buffer[] = [];
  for (const p of packets) {
    const cc = p[0]! & 0x0f;
    const payload = p.subarray(RTP_HEADER + cc * 4);
    const type = h265NalType(payload);
    if (type === H265_NAL.AP) {
      for (let o = 2; o + 2 <= payload.length; ) {
        const size = payload.readUInt16BE(o);
        out.push(sc, payload.subarray(o + 2, o + 2 + size));
        o += 2 + size;
      }
    } else if (type === H265_NAL.FU) {
      const fuHeader = payload[2]!;
      if (fuHeader & 0x80) fu = [Buffer.from([(payload[0]! & 0x81) | ((fuHeader & 0x3f) << 1), payload[1]!])];
      fu.push(payload.subarray(3));
      if (fuHeader & 0x40) out.push(sc, ...fu);
    } else {
      out.push(sc, payload);
    }
  }
  return Buffer.concat(out);
}
