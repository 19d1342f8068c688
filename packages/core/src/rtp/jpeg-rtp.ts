import type { EncodedFrame } from '../media/types.js';
import { RTP_HEADER, RtpWriter, type PacketizerOptions, type RtpPacketizer } from './h264-rtp.js';

/** RFC 2435 (RTP/JPEG) has a static payload type. */
export const JPEG_PAYLOAD_TYPE = 26;
/** Width and height travel in units of 8 pixels in one byte each: 2040 is the largest size RTP/JPEG carries. */
export const JPEG_RTP_MAX_SIZE = 2040;

/** What RFC 2435 needs of a baseline JPEG: its type, size, quantisation tables and entropy-coded data. */
export interface JpegFrame {
  /** RFC 2435 type: 0 for 4:2:2 (Y 2×1), 1 for 4:2:0 (Y 2×2); +64 with restart markers. */
  type: number;
  width: number;
  height: number;
  /** Restart interval in MCUs (DRI), 0 without restart markers. */
  restartInterval: number;
  /** Quantisation tables as in the DQT (zig-zag order), luma then chroma. */
  tables: Buffer[];
  /** Bit 0 set: table 0 has 16-bit precision; bit 1: table 1. */
  precision: number;
  /** The entropy-coded scan, without the EOI marker. */
  scan: Buffer;
}

/**
 * Reads the parts of a baseline JPEG (JFIF, as `jpegenc` writes it) that RFC 2435 sends: the
 * decoder rebuilds every other header itself, with the standard Huffman tables (libjpeg's default;
 * `jpegenc` does not optimise them). Throws on what RFC 2435 cannot describe (progressive,
 * 4:4:4, more than three components).
 */
export function parseJpeg(data: Buffer): JpegFrame {
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new Error('not a JPEG (no SOI)');
  const dqt = new Map<number, { precision: number; table: Buffer }>();
  let sof: { width: number; height: number; comps: Array<{ hv: number; tq: number }> } | undefined;
  let restartInterval = 0;
  let o = 2;
  while (o + 4 <= data.length) {
    if (data[o] !== 0xff) throw new Error(`JPEG marker expected at ${o}`);
    const marker = data[o + 1]!;
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    const len = data.readUInt16BE(o + 2);
    const seg = data.subarray(o + 4, o + 2 + len);
    if (marker === 0xdb) {
      for (let i = 0; i < seg.length; ) {
        const pq = seg[i]! >> 4;
        const tq = seg[i]! & 0x0f;
        const size = pq ? 128 : 64;
        dqt.set(tq, { precision: pq, table: seg.subarray(i + 1, i + 1 + size) });
        i += 1 + size;
      }
    } else if (marker === 0xc0) {
      const n = seg[5]!;
      const comps = [];
      for (let c = 0; c < n; c++) comps.push({ hv: seg[6 + c * 3 + 1]!, tq: seg[6 + c * 3 + 2]! });
      sof = { height: seg.readUInt16BE(1), width: seg.readUInt16BE(3), comps };
    } else if (marker >= 0xc1 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      throw new Error(`JPEG SOF${marker - 0xc0} is not baseline: RTP/JPEG carries baseline JPEG only`);
    } else if (marker === 0xdd) {
      restartInterval = seg.readUInt16BE(0);
    } else if (marker === 0xda) {
      if (!sof) throw new Error('JPEG scan before its frame header');
      let end = data.length;
      if (data[end - 2] === 0xff && data[end - 1] === 0xd9) end -= 2;
      return describe(sof, dqt, restartInterval, data.subarray(o + 2 + len, end));
    }
    o += 2 + len;
  }
  throw new Error('JPEG without a scan');
}

function describe(
  sof: { width: number; height: number; comps: Array<{ hv: number; tq: number }> },
  dqt: Map<number, { precision: number; table: Buffer }>,
  restartInterval: number,
  scan: Buffer,
): JpegFrame {
  const [y, cb, cr] = sof.comps;
  if (sof.comps.length !== 3 || !y || !cb || !cr || cb.hv !== 0x11 || cr.hv !== 0x11 || cb.tq !== cr.tq)
    throw new Error('RTP/JPEG carries YCbCr JPEG with shared chroma tables only');
  const base = y.hv === 0x21 ? 0 : y.hv === 0x22 ? 1 : -1;
  if (base < 0) throw new Error(`RTP/JPEG carries 4:2:2 and 4:2:0 only (luma sampling ${y.hv.toString(16)})`);
  const luma = dqt.get(y.tq);
  const chroma = dqt.get(cb.tq);
  if (!luma || !chroma) throw new Error('JPEG without its quantisation tables');
  return {
    type: base + (restartInterval ? 64 : 0),
    width: sof.width,
    height: sof.height,
    restartInterval,
    tables: [luma.table, chroma.table],
    precision: luma.precision | (chroma.precision << 1),
    scan,
  };
}

/**
 * RFC 2435 packetisation: each packet carries the 8-byte main JPEG header (fragment offset into the
 * scan, type, Q = 255, size in 8-pixel units), the restart marker header for types 64–127, and in the
 * first packet of a frame the quantisation tables in-band (Q ≥ 128), so a receiver needs nothing
 * from the SDP. Marker bit on the last packet of a frame. A frame RFC 2435 cannot describe (larger
 * than 2040 pixels, not baseline 4:2:0/4:2:2) yields no packets and is counted in `refused`.
 */
export class JpegPacketizer implements RtpPacketizer {
  private readonly mtu: number;
  private readonly writer: RtpWriter;
  refused = 0;
  lastError?: string;

  constructor(private readonly opts: PacketizerOptions) {
    this.mtu = opts.mtu ?? 1200;
    this.writer = opts.writer ?? new RtpWriter(opts.ssrc, opts.initialSequence);
  }

  get payloadType(): number {
    return this.opts.payloadType;
  }

  packetize(frame: EncodedFrame): Buffer[] {
    let jpeg: JpegFrame;
    try {
      jpeg = parseJpeg(frame.data);
      if (jpeg.width > JPEG_RTP_MAX_SIZE || jpeg.height > JPEG_RTP_MAX_SIZE)
        throw new Error(`${jpeg.width}x${jpeg.height} is larger than RTP/JPEG's ${JPEG_RTP_MAX_SIZE}x${JPEG_RTP_MAX_SIZE}`);
    } catch (err) {
      this.refused++;
      this.lastError = (err as Error).message;
      return [];
    }
    const restart = jpeg.type >= 64 ? Buffer.from([jpeg.restartInterval >> 8, jpeg.restartInterval & 0xff, 0xff, 0xff]) : Buffer.alloc(0);
    const tableBytes = jpeg.tables.reduce((a, t) => a + t.length, 0);
    const qHeader = Buffer.concat([Buffer.from([0, jpeg.precision, tableBytes >> 8, tableBytes & 0xff]), ...jpeg.tables]);
    const out: Buffer[] = [];
    for (let off = 0; off < jpeg.scan.length || off === 0; ) {
      const head = Buffer.from([0, (off >> 16) & 0xff, (off >> 8) & 0xff, off & 0xff, jpeg.type, 255, Math.ceil(jpeg.width / 8), Math.ceil(jpeg.height / 8)]);
      const extra = off === 0 ? qHeader : undefined;
      const room = this.mtu - RTP_HEADER - head.length - restart.length - (extra?.length ?? 0);
      if (room <= 0) throw new RangeError(`JpegPacketizer: mtu ${this.mtu} leaves no room for data`);
      const end = Math.min(off + room, jpeg.scan.length);
      const parts = [head, restart, ...(extra ? [extra] : []), jpeg.scan.subarray(off, end)];
      out.push(this.writer.packet(this.opts.payloadType, frame.rtpTimestamp, end === jpeg.scan.length, ...parts));
      if (end === off) break;
      off = end;
    }
    return out;
  }
}
