import type { EncodedFrame } from '../media/types.js';
import { NAL, nalType, splitAnnexB } from '../media/h264.js';

export const RTP_HEADER = 12;

export interface PacketizerOptions {
  payloadType: number;
  ssrc: number;
  /** Largest RTP packet (header included). 1200 keeps a packet under every path MTU including WebRTC's SRTP overhead. */
  mtu?: number;
  initialSequence?: number;
  /**
   * The sequence numbers and counters to write with: packetisers of one stream's codecs share one, so
   * a stream whose codec changed keeps one RTP sequence and SSRC (sender reports count every packet).
   */
  writer?: RtpWriter;
}

/** Writes RTP fixed headers (RFC 3550 §5.1): one sequence, one SSRC, packet and octet counts for sender reports. */
export class RtpWriter {
  private seq: number;
  packets = 0;
  octets = 0;

  constructor(
    readonly ssrc: number,
    initialSequence?: number,
  ) {
    this.seq = (initialSequence ?? Math.floor(Math.random() * 65536)) & 0xffff;
  }

  /** Sequence number of the next packet. */
  get sequence(): number {
    return this.seq;
  }

  packet(payloadType: number, timestamp: number, marker: boolean, ...payload: Buffer[]): Buffer {
    const len = payload.reduce((a, p) => a + p.length, 0);
    const b = Buffer.allocUnsafe(RTP_HEADER + len);
    b[0] = 0x80;
    b[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    b.writeUInt16BE(this.seq, 2);
    b.writeUInt32BE(timestamp >>> 0, 4);
    b.writeUInt32BE(this.ssrc >>> 0, 8);
    let o = RTP_HEADER;
    for (const p of payload) o += p.copy(b, o);
    this.seq = (this.seq + 1) & 0xffff;
    this.packets++;
    this.octets += len;
    return b;
  }
}

/** Turns one access unit of a codec into RTP packets (one instance per stream, see StreamPackets). */
export interface RtpPacketizer {
  readonly payloadType: number;
  packetize(frame: EncodedFrame): Buffer[];
}

/**
 * RFC 6184 packetisation mode 1: single NAL unit packets, FU-A for NALs larger than the MTU, marker
 * bit on the last packet of an access unit, parameter sets before every IDR. One instance per stream:
 * its packets go to every reader, so the work is done once whatever the number of clients.
 */
export class H264Packetizer implements RtpPacketizer {
  private readonly mtu: number;
  private readonly writer: RtpWriter;
  private sps?: Buffer;
  private pps?: Buffer;

  constructor(private readonly opts: PacketizerOptions) {
    this.mtu = opts.mtu ?? 1200;
    // An FU-A packet needs the RTP header, the FU indicator and header, and at least one byte of the NAL.
    if (!(this.mtu >= RTP_HEADER + 3)) throw new RangeError(`H264Packetizer: mtu ${this.mtu} is too small (at least ${RTP_HEADER + 3})`);
    this.writer = opts.writer ?? new RtpWriter(opts.ssrc, opts.initialSequence);
  }

  get payloadType(): number {
    return this.opts.payloadType;
  }

  /** Sequence number of the next packet. */
  get sequence(): number {
    return this.writer.sequence;
  }

  get ssrc(): number {
    return this.writer.ssrc;
  }

  get packets(): number {
    return this.writer.packets;
  }

  get octets(): number {
    return this.writer.octets;
  }

  packetize(frame: EncodedFrame): Buffer[] {
    let nals = splitAnnexB(frame.data).filter((n) => nalType(n) !== NAL.AUD);
    for (const n of nals) {
      if (nalType(n) === NAL.SPS) this.sps = n;
      else if (nalType(n) === NAL.PPS) this.pps = n;
    }
    if (frame.keyframe && nals.some((n) => nalType(n) === NAL.IDR) && !nals.some((n) => nalType(n) === NAL.SPS) && this.sps && this.pps) {
      nals = [this.sps, this.pps, ...nals];
    }
    const out: Buffer[] = [];
    const max = this.mtu - RTP_HEADER;
    nals.forEach((nal, i) => {
      const lastNal = i === nals.length - 1;
      if (nal.length <= max) {
        out.push(this.packet(frame.rtpTimestamp, lastNal, nal));
        return;
      }
      const indicator = (nal[0]! & 0xe0) | 28;
      const type = nal[0]! & 0x1f;
      const chunk = max - 2;
      for (let off = 1; off < nal.length; off += chunk) {
        const end = Math.min(off + chunk, nal.length);
        const header = (off === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
        out.push(this.packet(frame.rtpTimestamp, lastNal && end === nal.length, Buffer.from([indicator, header]), nal.subarray(off, end)));
      }
    });
    return out;
  }

  private packet(timestamp: number, marker: boolean, ...payload: Buffer[]): Buffer {
    return this.writer.packet(this.opts.payloadType, timestamp, marker, ...payload);
  }
}

/** Reassembles RTP packets into Annex-B NAL units (used by tests and by receivers of camd's own RTP). */
export function depacketizeH264(packets: Buffer[]): Buffer {
  const out: Buffer[] = [];
  let fu: Buffer[] = [];
  for (const p of packets) {
    const cc = p[0]! & 0x0f;
    const payload = p.subarray(RTP_HEADER + cc * 4);
    const type = payload[0]! & 0x1f;
    if (type === 28) {
      const start = (payload[1]! & 0x80) !== 0;
      const end = (payload[1]! & 0x40) !== 0;
      if (start) fu = [Buffer.from([(payload[0]! & 0xe0) | (payload[1]! & 0x1f)])];
      fu.push(payload.subarray(2));
      if (end) out.push(Buffer.from([0, 0, 0, 1]), ...fu);
    } else {
      out.push(Buffer.from([0, 0, 0, 1]), payload);
    }
  }
  return Buffer.concat(out);
}
