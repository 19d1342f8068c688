/** RTCP (RFC 3550): sender reports out, receiver reports in. */

const NTP_EPOCH_OFFSET_S = 2_208_988_800;

/** NTP 64-bit timestamp (seconds since 1900, fraction) of a wall-clock time in ms. */
export function ntpFromMs(ms: number): { seconds: number; fraction: number } {
  const s = Math.floor(ms / 1000);
  return { seconds: (s + NTP_EPOCH_OFFSET_S) >>> 0, fraction: Math.floor(((ms - s * 1000) / 1000) * 2 ** 32) >>> 0 };
}

/** The middle 32 bits of the NTP time (what LSR/DLSR arithmetic uses), in units of 1/65536 s. */
export function ntpMiddle32(ms: number): number {
  const { seconds, fraction } = ntpFromMs(ms);
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

export interface SenderReport {
  ssrc: number;
  /** Wall-clock capture time (ms) of the frame whose RTP timestamp is `rtpTimestamp`. */
  ntpMs: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  /** SDES CNAME to append (a compound packet must carry one). */
  cname?: string;
}

export function buildSenderReport(sr: SenderReport): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80; // V=2, no report blocks
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(sr.ssrc >>> 0, 4);
  const ntp = ntpFromMs(sr.ntpMs);
  b.writeUInt32BE(ntp.seconds, 8);
  b.writeUInt32BE(ntp.fraction, 12);
  b.writeUInt32BE(sr.rtpTimestamp >>> 0, 16);
  b.writeUInt32BE(sr.packetCount >>> 0, 20);
  b.writeUInt32BE(sr.octetCount >>> 0, 24);
  if (!sr.cname) return b;
  // The item's length is one octet: at most 255 bytes of text (not characters).
  const name = Buffer.from(sr.cname).subarray(0, 255);
  const itemLen = 2 + name.length + 1; // type, length, text, END
  const padded = Math.ceil((4 + itemLen) / 4) * 4;
  const sdes = Buffer.alloc(4 + padded);
  sdes[0] = 0x81; // one chunk
  sdes[1] = 202;
  sdes.writeUInt16BE((4 + padded) / 4 - 1, 2);
  sdes.writeUInt32BE(sr.ssrc >>> 0, 4);
  sdes[8] = 1; // CNAME
  sdes[9] = name.length;
  name.copy(sdes, 10);
  return Buffer.concat([b, sdes]);
}

/**
 * An RTCP BYE (RFC 3550 §6.6) for `ssrc` with a reason text (at most 255 bytes): the sender leaves.
 * Send it after a sender report in one compound packet; players end the stream on it (ffmpeg returns
 * end of file, GStreamer's rtpbin signals the SSRC's end).
 */
export function buildBye(ssrc: number, reason?: string): Buffer {
  const text = reason ? Buffer.from(reason).subarray(0, 255) : Buffer.alloc(0);
  const body = 4 + (text.length ? 1 + text.length : 0);
  const size = 4 + Math.ceil(body / 4) * 4;
  const b = Buffer.alloc(size);
  b[0] = 0x81; // V=2, one SSRC
  b[1] = 203;
  b.writeUInt16BE(size / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  if (text.length) {
    b[8] = text.length;
    text.copy(b, 9);
  }
  return b;
}

export interface ReportBlock {
  ssrc: number;
  /** Fraction lost since the previous report, 0..1. */
  fractionLost: number;
  cumulativeLost: number;
  highestSeq: number;
  /** Interarrival jitter in RTP timestamp units. */
  jitter: number;
  lsr: number;
  dlsr: number;
}

export interface ParsedRtcp {
  senderSsrc?: number;
  reports: ReportBlock[];
  bye: boolean;
}

/**
 * Parses a compound RTCP packet: the report blocks of its SR and RR packets, and whether it says BYE.
 * Never throws: the first malformed packet (wrong version, a length beyond the data, an SR or RR
 * too short for its header and report count) ends the parse; what came before it is returned.
 */
export function parseRtcp(buf: Buffer): ParsedRtcp {
  const out: ParsedRtcp = { reports: [], bye: false };
  let o = 0;
  while (o + 4 <= buf.length) {
    if (buf[o]! >> 6 !== 2) break;
    const count = buf[o]! & 0x1f;
    const type = buf[o + 1]!;
    const len = (buf.readUInt16BE(o + 2) + 1) * 4;
    if (o + len > buf.length) break;
    if (type === 201 || type === 200) {
      // Header and SSRC (8 bytes; an SR adds 20 of sender info), then `count` blocks of 24 (§6.4).
      const first = o + (type === 201 ? 8 : 28);
      if (first + count * 24 > o + len) break;
      out.senderSsrc = buf.readUInt32BE(o + 4);
      for (let i = 0, rb = first; i < count; i++, rb += 24) {
        const lostRaw = buf.readUInt32BE(rb + 4);
        let cumulative = lostRaw & 0xffffff;
        if (cumulative & 0x800000) cumulative -= 0x1000000;
        out.reports.push({
          ssrc: buf.readUInt32BE(rb),
          fractionLost: (lostRaw >>> 24) / 256,
          cumulativeLost: cumulative,
          highestSeq: buf.readUInt32BE(rb + 8),
          jitter: buf.readUInt32BE(rb + 12),
          lsr: buf.readUInt32BE(rb + 16),
          dlsr: buf.readUInt32BE(rb + 20),
        });
      }
    } else if (type === 203) {
      out.bye = true;
    }
    o += len;
  }
  return out;
}

/** Round-trip time in ms from a report block (RFC 3550 §6.4.1), or undefined without an SR echo. */
export function rttMs(block: ReportBlock, nowMs: number): number | undefined {
  if (block.lsr === 0) return undefined;
  const rtt = (ntpMiddle32(nowMs) - block.lsr - block.dlsr) >>> 0;
  const ms = (rtt / 65536) * 1000;
  return ms < 60_000 ? ms : undefined;
}
