/**
 * Reader for the GStreamer data protocol (gdppay): a 62-byte big-endian header per packet, then the
 * payload. Buffers carry PTS/DTS/duration/flags; caps and events carry their serialised structure.
 *
 *   0 version major, 1 minor, 2 flags, 3 pad, 4-5 payload type, 6-9 payload length,
 *   10-17 PTS, 18-25 duration, 26-33 offset, 34-41 offset end, 42-43 buffer flags, 44-51 DTS,
 *   52-57 reserved, 58-59 header CRC, 60-61 payload CRC.
 */
export const GDP_HEADER = 62;
const PAYLOAD_BUFFER = 1;
const PAYLOAD_CAPS = 2;
/** Header flag: bytes 58-59 hold a CRC of bytes 0-57 (gdppay's default, crc-header=true). */
const FLAG_CRC_HEADER = 1;
/** GST_BUFFER_FLAG_DELTA_UNIT: not a keyframe. */
export const FLAG_DELTA_UNIT = 0x2000;
const CLOCK_TIME_NONE = 0xffffffffffffffffn;
/** A single packet larger than this is treated as a corrupt stream. */
const MAX_PAYLOAD = 64 * 1024 * 1024;

export type GdpPacket =
  | { kind: 'buffer'; pts?: bigint; dts?: bigint; duration?: bigint; flags: number; data: Buffer }
  | { kind: 'caps'; caps: string }
  | { kind: 'event'; type: number; structure: string };

/** Incremental parser: push chunks from the pipe, get whole packets back. */
export class GdpReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): GdpPacket[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: GdpPacket[] = [];
    for (;;) {
      if (this.buffered < GDP_HEADER) break;
      const head = this.peek(GDP_HEADER);
      if (head[0] !== 1) throw new Error(`not a GDP stream (version byte ${head[0]})`);
      // A header that fails its CRC means we lost framing: better a clear error than garbage frames.
      if (head[2]! & FLAG_CRC_HEADER && crc16(head.subarray(0, 58)) !== head.readUInt16BE(58)) throw new Error('GDP header CRC mismatch');
      const len = head.readUInt32BE(6);
      if (len > MAX_PAYLOAD) throw new Error(`GDP packet of ${len} bytes`);
      if (this.buffered < GDP_HEADER + len) break;
      const whole = this.take(GDP_HEADER + len);
      const payload = whole.subarray(GDP_HEADER);
      const type = whole.readUInt16BE(4);
      if (type === PAYLOAD_BUFFER) {
        const t = (o: number) => {
          const v = whole.readBigUInt64BE(o);
          return v === CLOCK_TIME_NONE ? undefined : v;
        };
        out.push({ kind: 'buffer', pts: t(10), duration: t(18), flags: whole.readUInt16BE(42), dts: t(44), data: payload });
      } else if (type === PAYLOAD_CAPS) {
        out.push({ kind: 'caps', caps: payload.toString('utf8').replace(/\0+$/, '') });
      } else {
        out.push({ kind: 'event', type, structure: payload.toString('utf8').replace(/\0+$/, '') });
      }
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
}

/** `start`/`base` of a serialised GstEventSegment (rate 1, time format), to turn PTS into running time. */
export function parseSegment(structure: string): { start: bigint; base: bigint } | undefined {
  if (!structure.startsWith('GstEventSegment')) return undefined;
  const start = /start=\(guint64\)(\d+)/.exec(structure);
  const base = /base=\(guint64\)(\d+)/.exec(structure);
  if (!start || !base) return undefined;
  return { start: BigInt(start[1]!), base: BigInt(base[1]!) };
}

/** Width, height and profile of serialised caps such as `video/x-h264, width=(int)320, …`. */
export function parseCaps(caps: string): { media: string; width?: number; height?: number; profile?: string } {
  const media = caps.split(',')[0]!.trim();
  const int = (k: string) => {
    const m = new RegExp(`${k}=\\(int\\)(\\d+)`).exec(caps);
    return m ? Number(m[1]) : undefined;
  };
  const profile = /profile=\(string\)([\w:-]+)/.exec(caps)?.[1];
  return { media, width: int('width'), height: int('height'), profile };
}

/** CRC-16/CCITT as GDP uses it (polynomial 0x1021, initial 0xffff, final XOR 0xffff). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc ^ 0xffff;
}
