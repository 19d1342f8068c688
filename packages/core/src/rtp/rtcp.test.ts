import { describe, expect, it } from 'vitest';
import { buildBye, buildSenderReport, ntpFromMs, ntpMiddle32, parseRtcp, rttMs, type ReportBlock } from './rtcp.js';

const NTP_1970 = 2_208_988_800; // seconds from 1900 to 1970 (RFC 868)

/** The common header of one RTCP packet (RFC 3550 §6.4.1): V, P, count, PT, length in words - 1. */
function header(b: Buffer, o = 0) {
  return { version: b[o]! >> 6, padding: (b[o]! & 0x20) !== 0, count: b[o]! & 0x1f, type: b[o + 1]!, bytes: (b.readUInt16BE(o + 2) + 1) * 4 };
}

/** An RR (PT 201) or SR (PT 200) written field by field from the RFC's layout, for the parser to read. */
function report(type: 200 | 201, ssrc: number, blocks: Array<Partial<ReportBlock> & { lostRaw?: number }>, lengthWords?: number): Buffer {
  const head = type === 200 ? 28 : 8;
  const b = Buffer.alloc(head + blocks.length * 24);
  b[0] = 0x80 | blocks.length;
  b[1] = type;
  b.writeUInt16BE(lengthWords ?? b.length / 4 - 1, 2);
  b.writeUInt32BE(ssrc, 4);
  blocks.forEach((r, i) => {
    const o = head + i * 24;
    b.writeUInt32BE(r.ssrc ?? 0, o);
    b.writeUInt32BE(r.lostRaw ?? ((Math.round((r.fractionLost ?? 0) * 256) << 24) | ((r.cumulativeLost ?? 0) & 0xffffff)) >>> 0, o + 4);
    b.writeUInt32BE(r.highestSeq ?? 0, o + 8);
    b.writeUInt32BE(r.jitter ?? 0, o + 12);
    b.writeUInt32BE(r.lsr ?? 0, o + 16);
    b.writeUInt32BE(r.dlsr ?? 0, o + 20);
  });
  return b;
}

const bye = (ssrc: number) => Buffer.from([0x81, 203, 0, 1, ...[24, 16, 8, 0].map((s) => (ssrc >>> s) & 0xff)]);
const sdes = Buffer.from([0x81, 202, 0, 2, 0, 0, 0, 7, 1, 1, 0x78, 0]); // one chunk: CNAME "x", END

describe('NTP timestamps (RFC 3550 §4)', () => {
  it('counts seconds from 1900 and the fraction in 1/2^32 s', () => {
    expect(ntpFromMs(0)).toEqual({ seconds: NTP_1970, fraction: 0 });
    expect(ntpFromMs(1500)).toEqual({ seconds: NTP_1970 + 1, fraction: 2 ** 31 });
    expect(ntpFromMs(250)).toEqual({ seconds: NTP_1970, fraction: 2 ** 30 });
  });

  it('takes the middle 32 bits: low 16 of the seconds, high 16 of the fraction', () => {
    const ms = 1_700_000_000_750;
    const { seconds, fraction } = ntpFromMs(ms);
    expect(ntpMiddle32(ms)).toBe(((seconds & 0xffff) * 65536 + (fraction >>> 16)) >>> 0);
    expect(ntpMiddle32(ms) & 0xffff).toBe(0xc000); // .75 s
  });
});

describe('buildSenderReport (RFC 3550 §6.4.1)', () => {
  const sr = { ssrc: 0x11223344, ntpMs: 1_700_000_000_500, rtpTimestamp: 0xfffffff0, packetCount: 1234, octetCount: 987_654 };

  it('writes a 28-byte SR without report blocks', () => {
    const b = buildSenderReport(sr);
    expect(b.length).toBe(28);
    expect(header(b)).toEqual({ version: 2, padding: false, count: 0, type: 200, bytes: 28 });
    const ntp = ntpFromMs(sr.ntpMs);
    expect([b.readUInt32BE(4), b.readUInt32BE(8), b.readUInt32BE(12), b.readUInt32BE(16), b.readUInt32BE(20), b.readUInt32BE(24)]).toEqual([
      sr.ssrc,
      ntp.seconds,
      ntp.fraction,
      sr.rtpTimestamp,
      1234,
      987_654,
    ]);
  });

  it('appends an SDES CNAME chunk: one null octet at least, padded to 32 bits, lengths that add up (§6.5)', () => {
    for (let n = 1; n <= 9; n++) {
      const cname = 'c'.repeat(n);
      const b = buildSenderReport({ ...sr, cname });
      const s = b.subarray(28);
      expect(header(s)).toEqual({ version: 2, padding: false, count: 1, type: 202, bytes: s.length });
      expect(s.length % 4).toBe(0);
      expect(s.readUInt32BE(4)).toBe(sr.ssrc);
      expect([s[8], s[9]]).toEqual([1, n]); // CNAME, length
      expect(s.subarray(10, 10 + n).toString()).toBe(cname);
      const rest = s.subarray(10 + n);
      expect(rest.length).toBeGreaterThanOrEqual(1);
      expect(rest.length).toBeLessThanOrEqual(4);
      expect([...rest].every((x) => x === 0)).toBe(true);
    }
  });

  it('cuts a CNAME to 255 bytes, whatever its characters', () => {
    for (const cname of ['a'.repeat(300), 'é'.repeat(200)]) {
      const s = buildSenderReport({ ...sr, cname }).subarray(28);
      expect(s[9]).toBe(255);
      expect(s.subarray(10, 265)).toEqual(Buffer.from(cname).subarray(0, 255));
      expect(header(s).bytes).toBe(s.length);
    }
  });

  it('is read back by parseRtcp as a sender without report blocks', () => {
    expect(parseRtcp(buildSenderReport({ ...sr, cname: 'camd' }))).toEqual({ senderSsrc: sr.ssrc, reports: [], bye: false });
  });
});

describe('parseRtcp', () => {
  const block = { ssrc: 0xaabbccdd, fractionLost: 0.25, cumulativeLost: 1000, highestSeq: 0x0001_0005, jitter: 450, lsr: 0x12345678, dlsr: 65536 };

  it('reads the report blocks of a receiver report', () => {
    const other = { ...block, ssrc: 7, fractionLost: 0, cumulativeLost: 0 };
    expect(parseRtcp(report(201, 42, [block, other]))).toEqual({ senderSsrc: 42, reports: [block, other], bye: false });
  });

  it('reads the report blocks of a sender report (after its sender info)', () => {
    expect(parseRtcp(report(200, 9, [block])).reports).toEqual([block]);
  });

  it('reads the cumulative loss as a signed 24-bit number (duplicates make it negative)', () => {
    expect(parseRtcp(report(201, 1, [{ lostRaw: 0xff_ffffff }])).reports[0]).toMatchObject({ fractionLost: 255 / 256, cumulativeLost: -1 });
    expect(parseRtcp(report(201, 1, [{ lostRaw: 0x00_800000 }])).reports[0]!.cumulativeLost).toBe(-0x800000);
    expect(parseRtcp(report(201, 1, [{ lostRaw: 0x00_7fffff }])).reports[0]!.cumulativeLost).toBe(0x7fffff);
  });

  it('walks a compound packet: RR, SDES, BYE', () => {
    expect(parseRtcp(Buffer.concat([report(201, 5, [block]), sdes, bye(5)]))).toEqual({ senderSsrc: 5, reports: [block], bye: true });
  });

  it('accepts an RR longer than its blocks (profile-specific extensions)', () => {
    const b = Buffer.concat([report(201, 5, [block]), Buffer.alloc(8)]);
    b.writeUInt16BE(b.length / 4 - 1, 2);
    expect(parseRtcp(Buffer.concat([b, bye(5)]))).toEqual({ senderSsrc: 5, reports: [block], bye: true });
  });

  it('returns nothing for empty input, another version, or a length beyond the data', () => {
    const none = { reports: [], bye: false };
    expect(parseRtcp(Buffer.alloc(0))).toEqual(none);
    expect(parseRtcp(Buffer.from([0x80, 201]))).toEqual(none);
    const v1 = report(201, 1, [block]);
    v1[0] = 0x41;
    expect(parseRtcp(v1)).toEqual(none);
    expect(parseRtcp(report(201, 1, [block], 20))).toEqual(none);
  });

  it('does not throw on an SR or RR too short for its header or its report count, and keeps what came before', () => {
    // Length 0 (4 bytes): no room for the sender SSRC.
    for (const type of [200, 201]) expect(parseRtcp(Buffer.from([0x80, type, 0, 0]))).toEqual({ reports: [], bye: false });
    // An SR of 8 bytes: no sender info.
    expect(parseRtcp(Buffer.from([0x80, 200, 0, 1, 0, 0, 0, 1]))).toEqual({ reports: [], bye: false });
    // Two blocks announced, room for one.
    const short = report(201, 3, [block, block]).subarray(0, 8 + 24);
    short.writeUInt16BE(short.length / 4 - 1, 2);
    expect(parseRtcp(short)).toEqual({ reports: [], bye: false });
    // A good RR, then a truncated one and a BYE after it: the first is kept, the parse stops there.
    const good = report(201, 3, [block]);
    expect(parseRtcp(Buffer.concat([good, Buffer.from([0x80, 201, 0, 0]), bye(3)]))).toEqual({ senderSsrc: 3, reports: [block], bye: false });
  });

  it('never throws, on any truncation of a valid compound packet or on random bytes', () => {
    const valid = Buffer.concat([report(200, 1, [block]), report(201, 2, [block, block]), sdes, bye(1)]);
    for (let n = 0; n <= valid.length; n++) expect(() => parseRtcp(valid.subarray(0, n))).not.toThrow();
    let seed = 1;
    const rand = () => (seed = (seed * 1_103_515_245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(Array.from({ length: 4 + (rand() % 64) }, rand));
      b[0] = 0x80 | (b[0]! & 0x3f); // mostly version 2, so the parser gets past the first check
      expect(() => parseRtcp(b)).not.toThrow();
    }
  });
});

describe('rttMs (RFC 3550 §6.4.1: A - LSR - DLSR)', () => {
  const base: ReportBlock = { ssrc: 1, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };

  it('is undefined before the receiver has seen a sender report (LSR = 0)', () => {
    expect(rttMs(base, Date.now())).toBeUndefined();
  });

  it('subtracts the receiver delay from the time since the echoed SR', () => {
    const now = 1_700_000_000_000;
    // SR sent 150 ms ago, held 50 ms by the receiver: 100 ms on the network, to 1/65536 s.
    const rtt = rttMs({ ...base, lsr: ntpMiddle32(now - 150), dlsr: Math.round(0.05 * 65536) }, now)!;
    expect(rtt).toBeGreaterThan(99.9);
    expect(rtt).toBeLessThan(100.1);
  });

  it('is undefined for an impossible answer (a DLSR larger than the elapsed time, or a minute or more)', () => {
    const now = 1_700_000_000_000;
    expect(rttMs({ ...base, lsr: ntpMiddle32(now - 10), dlsr: 65536 }, now)).toBeUndefined();
    expect(rttMs({ ...base, lsr: ntpMiddle32(now - 61_000), dlsr: 0 }, now)).toBeUndefined();
  });
});

describe('buildBye (RFC 3550 §6.6)', () => {
  it('is one BYE for the SSRC with its reason, padded to 32 bits, that parseRtcp reads as BYE', () => {
    const b = buildBye(0x01020304, 'codec changed');
    expect(b.length % 4).toBe(0);
    expect([b[0], b[1], b.readUInt16BE(2)]).toEqual([0x81, 203, b.length / 4 - 1]);
    expect(b.readUInt32BE(4)).toBe(0x01020304);
    expect(b.subarray(9, 9 + b[8]!).toString()).toBe('codec changed');
    expect(parseRtcp(Buffer.concat([buildSenderReport({ ssrc: 1, ntpMs: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 }), b])).bye).toBe(true);
    expect(buildBye(1).length).toBe(8);
  });
});
