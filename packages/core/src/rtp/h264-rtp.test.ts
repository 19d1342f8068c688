import { describe, expect, it } from 'vitest';
import type { EncodedFrame } from '../media/types.js';
import { depacketizeH264, H264Packetizer, RTP_HEADER } from './h264-rtp.js';

// NAL unit headers (F=0, NRI, type): RFC 6184 §1.3.
const SPS = Buffer.from([0x67, 0x64, 0x00, 0x1f, 0xac]);
const PPS = Buffer.from([0x68, 0xee, 0x3c, 0x80]);
const AUD = Buffer.from([0x09, 0xf0]);
const SEI = Buffer.from([0x06, 0x05, 0x01, 0x80]);
const idr = (size: number) => nal(0x65, size);
const slice = (size: number) => nal(0x41, size);

/** A NAL of `size` bytes: header, then a counting pattern (so misplaced bytes show). */
function nal(header: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b[0] = header;
  for (let i = 1; i < size; i++) b[i] = i & 0xff;
  return b;
}

function frame(nals: Buffer[], opts: { keyframe?: boolean; rtpTimestamp?: number } = {}): EncodedFrame {
  const data = Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
  const keyframe = opts.keyframe ?? nals.some((n) => (n[0]! & 0x1f) === 5);
  return {
    stream: 's',
    seq: 0,
    data,
    keyframe,
    codec: 'h264',
    captureTimeMs: 0,
    rtpTimestamp: opts.rtpTimestamp ?? 90_000,
    receivedAt: 0,
    width: 320,
    height: 240,
  };
}

/** The fields of an RTP fixed header (RFC 3550 §5.1). */
function rtp(p: Buffer) {
  return {
    version: p[0]! >> 6,
    padding: (p[0]! & 0x20) !== 0,
    extension: (p[0]! & 0x10) !== 0,
    csrcCount: p[0]! & 0x0f,
    marker: (p[1]! & 0x80) !== 0,
    payloadType: p[1]! & 0x7f,
    sequence: p.readUInt16BE(2),
    timestamp: p.readUInt32BE(4),
    ssrc: p.readUInt32BE(8),
    payload: p.subarray(RTP_HEADER),
  };
}

const packetizer = (opts: { mtu?: number; initialSequence?: number } = {}) =>
  new H264Packetizer({ payloadType: 96, ssrc: 0xdeadbeef, initialSequence: 1000, ...opts });

describe('H264Packetizer (RFC 6184, packetization-mode=1)', () => {
  it('sends a small NAL as a single NAL unit packet: a plain RTP header, then the NAL itself', () => {
    const n = slice(100);
    const [p, ...rest] = packetizer().packetize(frame([n], { rtpTimestamp: 123_456 }));
    expect(rest).toEqual([]);
    expect(rtp(p!)).toEqual({
      version: 2,
      padding: false,
      extension: false,
      csrcCount: 0,
      marker: true,
      payloadType: 96,
      sequence: 1000,
      timestamp: 123_456,
      ssrc: 0xdeadbeef,
      payload: n,
    });
  });

  it('sends each NAL of an access unit in its own packet, same timestamp, marker on the last only (§5.1)', () => {
    const nals = [SEI, slice(200), slice(300)];
    const packets = packetizer()
      .packetize(frame(nals, { rtpTimestamp: 3000 }))
      .map(rtp);
    expect(packets.map((p) => p.payload)).toEqual(nals);
    expect(packets.map((p) => p.timestamp)).toEqual([3000, 3000, 3000]);
    expect(packets.map((p) => p.marker)).toEqual([false, false, true]);
    expect(packets.map((p) => p.sequence)).toEqual([1000, 1001, 1002]);
  });

  it('leaves access unit delimiters out', () => {
    const packets = packetizer()
      .packetize(frame([AUD, slice(50)]))
      .map(rtp);
    expect(packets.map((p) => p.payload)).toEqual([slice(50)]);
    expect(packets[0]!.marker).toBe(true);
  });

  it('fragments a NAL larger than the MTU into FU-A packets (§5.8)', () => {
    const mtu = 1200;
    const n = idr(5000);
    const packets = packetizer({ mtu })
      .packetize(frame([n], { keyframe: false }))
      .map(rtp);
    const max = mtu - RTP_HEADER;
    // ceil((5000 - 1) / (max - 2)) fragments: the NAL header travels in the FU indicator/header instead.
    expect(packets).toHaveLength(Math.ceil(4999 / (max - 2)));
    packets.forEach((p, i) => {
      const first = i === 0;
      const last = i === packets.length - 1;
      expect(RTP_HEADER + p.payload.length).toBeLessThanOrEqual(mtu);
      if (!last) expect(RTP_HEADER + p.payload.length).toBe(mtu);
      // FU indicator: F and NRI of the NAL, type 28.
      expect(p.payload[0]).toBe((n[0]! & 0xe0) | 28);
      // FU header: S on the first fragment only, E on the last only, R = 0, the NAL's type.
      expect(p.payload[1]).toBe((first ? 0x80 : 0) | (last ? 0x40 : 0) | (n[0]! & 0x1f));
      expect(p.marker).toBe(last);
      expect(p.sequence).toBe(1000 + i);
    });
    // The fragments carry the NAL without its header byte, in order.
    expect(Buffer.concat(packets.map((p) => p.payload.subarray(2)))).toEqual(n.subarray(1));
  });

  it('keeps F and NRI in the FU indicator (a NAL with NRI=0 and one with F=1)', () => {
    for (const header of [0x01, 0x81, 0x25]) {
      const packets = packetizer({ mtu: 100 })
        .packetize(frame([nal(header, 300)], { keyframe: false }))
        .map(rtp);
      expect(packets.every((p) => p.payload[0] === ((header & 0xe0) | 28))).toBe(true);
      expect(packets.every((p) => (p.payload[1]! & 0x1f) === (header & 0x1f))).toBe(true);
    }
  });

  it('fragments exactly when a NAL does not fit: MTU - 12 bytes is one packet, one byte more is two fragments', () => {
    const mtu = 500;
    const fits = packetizer({ mtu }).packetize(frame([slice(mtu - RTP_HEADER)]));
    expect(fits).toHaveLength(1);
    expect(fits[0]!.length).toBe(mtu);
    const over = packetizer({ mtu })
      .packetize(frame([slice(mtu - RTP_HEADER + 1)]))
      .map(rtp);
    expect(over).toHaveLength(2);
    expect(over.map((p) => p.payload[1]! & 0xc0)).toEqual([0x80, 0x40]);
  });

  it('sets the marker on the last fragment of the last NAL only, when the access unit ends in a fragmented NAL', () => {
    const packets = packetizer({ mtu: 200 })
      .packetize(frame([slice(100), slice(1000)]))
      .map(rtp);
    expect(packets.map((p) => p.marker).lastIndexOf(true)).toBe(packets.length - 1);
    expect(packets.filter((p) => p.marker)).toHaveLength(1);
  });

  it('sends SPS and PPS (single NAL packets) before an IDR that comes without them, once seen', () => {
    const p = packetizer();
    // Before any SPS/PPS: nothing to repeat.
    expect(p.packetize(frame([idr(100)])).map((x) => rtp(x).payload)).toEqual([idr(100)]);
    // An IDR with its parameter sets: sent as they are, not twice.
    expect(p.packetize(frame([AUD, SPS, PPS, idr(100)])).map((x) => rtp(x).payload)).toEqual([SPS, PPS, idr(100)]);
    // A later IDR without them: repeated in front, same timestamp, no marker.
    const again = p.packetize(frame([idr(120)], { rtpTimestamp: 9000 })).map(rtp);
    expect(again.map((x) => x.payload)).toEqual([SPS, PPS, idr(120)]);
    expect(again.map((x) => [x.timestamp, x.marker])).toEqual([
      [9000, false],
      [9000, false],
      [9000, true],
    ]);
    // Not in front of non-IDR pictures.
    expect(p.packetize(frame([slice(80)])).map((x) => rtp(x).payload)).toEqual([slice(80)]);
  });

  it('repeats the newest parameter sets after a change', () => {
    const p = packetizer();
    const sps2 = Buffer.from([0x67, 0x4d, 0x00, 0x28, 0x01]);
    const pps2 = Buffer.from([0x68, 0xce, 0x01]);
    p.packetize(frame([SPS, PPS, idr(10)]));
    p.packetize(frame([sps2, pps2, idr(10)]));
    expect(p.packetize(frame([idr(10)])).map((x) => rtp(x).payload)).toEqual([sps2, pps2, idr(10)]);
  });

  it('numbers packets consecutively across frames and wraps at 65535 (RFC 3550 §5.1)', () => {
    const p = packetizer({ initialSequence: 65534 });
    expect(p.sequence).toBe(65534);
    const seqs = [...p.packetize(frame([SEI, slice(10)])), ...p.packetize(frame([slice(10), slice(10)]))].map((x) => rtp(x).sequence);
    expect(seqs).toEqual([65534, 65535, 0, 1]);
    expect(p.sequence).toBe(2);
    // A random start is still a 16-bit number.
    const r = new H264Packetizer({ payloadType: 96, ssrc: 1 }).sequence;
    expect(Number.isInteger(r) && r >= 0 && r <= 0xffff).toBe(true);
  });

  it('counts packets and payload octets (what a sender report states, RFC 3550 §6.4.1)', () => {
    const p = packetizer({ mtu: 200 });
    const out = [...p.packetize(frame([slice(100)])), ...p.packetize(frame([slice(1000)]))];
    expect(p.packets).toBe(out.length);
    expect(p.octets).toBe(out.reduce((a, x) => a + x.length - RTP_HEADER, 0));
  });

  it('writes a 32-bit timestamp and SSRC, payload type in 7 bits', () => {
    const p = new H264Packetizer({ payloadType: 127, ssrc: 0xffffffff, initialSequence: 0 });
    const x = rtp(p.packetize(frame([slice(10)], { rtpTimestamp: 0xffffffff }))[0]!);
    expect([x.payloadType, x.ssrc, x.timestamp, x.marker]).toEqual([127, 0xffffffff, 0xffffffff, true]);
  });

  it('makes no packet of an empty frame', () => {
    expect(packetizer().packetize(frame([]))).toEqual([]);
  });

  it('refuses an MTU too small to carry a fragment', () => {
    expect(() => packetizer({ mtu: RTP_HEADER + 2 })).toThrow(RangeError);
    expect(packetizer({ mtu: RTP_HEADER + 3 }).packetize(frame([slice(5)], { keyframe: false }))).toHaveLength(4);
  });

  it('round-trips through depacketizeH264 to the same NAL units (Annex B)', () => {
    const nals = [SPS, PPS, SEI, idr(4000), slice(30)];
    const packets = packetizer({ mtu: 1000 }).packetize(frame([AUD, ...nals]));
    expect(depacketizeH264(packets)).toEqual(Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n])));
  });
});
