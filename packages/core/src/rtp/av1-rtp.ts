import { leb128, readLeb128 } from '../media/bits.js';
import { isAv1Keyframe, OBU, splitObus } from '../media/av1.js';
import type { EncodedFrame } from '../media/types.js';
import { RtpWriter, RTP_HEADER, type PacketizerOptions, type RtpPacketizer } from './h264-rtp.js';

/** The aggregation header (AV1 RTP §4.4): Z|Y|W W|N|-|-|-. */
const Z = 0x80;
const Y = 0x40;
const N = 0x08;
/** Most OBU elements a packet carries: W then counts them, and the last one needs no length field. */
const MAX_ELEMENTS = 3;

/**
 * The AOMedia "RTP Payload Format for AV1" packetisation of a temporal unit: its OBUs without the
 * temporal delimiter and tile lists (§5: SHOULD be removed) and without their size fields (the OBU
 * element's length says it), packed in order into packets under the MTU, at most three elements a
 * packet so that W counts them (the last one then has no length field, as libwebrtc packs them); an
 * OBU larger than the room left is split into fragments (Y on the packet it continues from, Z on the
 * next); N on the first packet of a temporal unit that starts a coded video sequence (a sequence
 * header and a key frame), the marker on the last packet of the temporal unit.
 */
export class Av1Packetizer implements RtpPacketizer {
  private readonly mtu: number;
  private readonly writer: RtpWriter;

  constructor(private readonly opts: PacketizerOptions) {
    this.mtu = opts.mtu ?? 1200;
    if (!(this.mtu > RTP_HEADER + 1 + 8)) throw new RangeError(`Av1Packetizer: mtu ${this.mtu} is too small`);
    this.writer = opts.writer ?? new RtpWriter(opts.ssrc, opts.initialSequence);
  }

  get payloadType(): number {
    return this.opts.payloadType;
  }

  packetize(frame: EncodedFrame): Buffer[] {
    const budget = this.mtu - RTP_HEADER - 1;
    const elements = splitObus(frame.data)
      .filter((o) => o.type !== OBU.TEMPORAL_DELIMITER && o.type !== OBU.TILE_LIST)
      .map((o) => {
        const header = Buffer.from(o.header);
        header[0] = header[0]! & ~0x02; // obu_has_size_field = 0
        return Buffer.concat([header, o.payload]);
      });
    const payloads: { z: boolean; y: boolean; parts: Buffer[] }[] = [];
    let current: { z: boolean; y: boolean; parts: Buffer[] } = { z: false, y: false, parts: [] };
    // Bytes of `current` with every element but the last length-prefixed (the last has no length field).
    let used = 0;
    const flush = () => {
      payloads.push(current);
      current = { z: false, y: false, parts: [] };
      used = 0;
    };
    for (const element of elements) {
      let rest = element;
      while (rest.length > 0) {
        if (current.parts.length === MAX_ELEMENTS) flush();
        // Adding an element gives the one before it a length field.
        const prefix = current.parts.length > 0 ? leb128(current.parts[current.parts.length - 1]!.length).length : 0;
        const room = budget - used - prefix;
        // A new element in the last few bytes would be a fragment of almost nothing: start a packet.
        if (room < Math.min(rest.length, 8)) {
          flush();
          continue;
        }
        const take = Math.min(rest.length, room);
        current.parts.push(rest.subarray(0, take));
        used += prefix + take;
        rest = rest.subarray(take);
        if (rest.length > 0) {
          current.y = true;
          flush();
          current.z = true;
        }
      }
    }
    if (current.parts.length > 0 || payloads.length === 0) payloads.push(current);
    const startsSequence = isAv1Keyframe(frame.data);
    return payloads.map((p, i) => {
      const aggregation = (p.z ? Z : 0) | (p.y ? Y : 0) | (p.parts.length << 4) | (i === 0 && startsSequence ? N : 0);
      const body = p.parts.flatMap((part, k) => (k < p.parts.length - 1 ? [leb128(part.length), part] : [part]));
      return this.writer.packet(this.opts.payloadType, frame.rtpTimestamp, i === payloads.length - 1, Buffer.from([aggregation]), ...body);
    });
  }
}

/**
 * Reassembles the packets of one temporal unit into OBUs with size fields (the low-overhead format a
 * decoder reads, without a temporal delimiter): tests, and receivers of camd's own RTP. Throws on a
 * malformed aggregation.
 */
export function depacketizeAv1(packets: Buffer[]): Buffer {
  const obus: Buffer[] = [];
  let pending: Buffer[] = [];
  for (const p of packets) {
    const payload = p.subarray(RTP_HEADER + (p[0]! & 0x0f) * 4);
    const a = payload[0]!;
    const w = (a >> 4) & 0x03;
    const elements: Buffer[] = [];
    let o = 1;
    while (o < payload.length) {
      if (w !== 0 && elements.length === w - 1) {
        elements.push(payload.subarray(o));
        break;
      }
      const len = readLeb128(payload, o);
      if (!len || o + len.length + len.value > payload.length) throw new RangeError('AV1 RTP: element length runs past the packet');
      elements.push(payload.subarray(o + len.length, o + len.length + len.value));
      o += len.length + len.value;
    }
    elements.forEach((e, k) => {
      const continues = k === 0 && (a & Z) !== 0;
      const fragmentEnds = k === elements.length - 1 && (a & Y) !== 0;
      if (!continues && pending.length > 0) throw new RangeError('AV1 RTP: an OBU fragment was not continued');
      pending.push(e);
      if (!fragmentEnds) {
        obus.push(withSizeField(Buffer.concat(pending)));
        pending = [];
      }
    });
  }
  return Buffer.concat(obus);
}

/** An OBU element (header, optional extension, payload) with `obu_has_size_field` set and its size written. */
function withSizeField(element: Buffer): Buffer {
  const headerLen = element[0]! & 0x04 ? 2 : 1;
  const header = Buffer.from(element.subarray(0, headerLen));
  header[0] = header[0]! | 0x02;
  const payload = element.subarray(headerLen);
  return Buffer.concat([header, leb128(payload.length), payload]);
}
