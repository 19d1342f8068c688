import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EncodedFrame } from '../media/types.js';
import { RTP_HEADER, RtpWriter } from './h264-rtp.js';
import { depacketizeH265, H265Packetizer } from './h265-rtp.js';
import { JPEG_PAYLOAD_TYPE, JpegPacketizer, parseJpeg } from './jpeg-rtp.js';

// Two-byte H.265 NAL headers (F=0, type << 1, LayerId 0, TID 1): RFC 7798 §1.1.4.
const hdr = (type: number) => [type << 1, 1];
const VPS = Buffer.from([...hdr(32), 0x0c, 0x01]);
const SPS = Buffer.from([...hdr(33), 0x01, 0x01, 0x60]);
const PPS = Buffer.from([...hdr(34), 0xc1, 0x72]);
const AUD = Buffer.from([...hdr(35), 0x50]);
function nal(type: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.set(hdr(type));
  for (let i = 2; i < size; i++) b[i] = i & 0xff;
  return b;
}
const annexB = (nals: Buffer[]) => Buffer.concat(nals.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n]));
const frame = (data: Buffer, codec: EncodedFrame['codec'], keyframe: boolean): EncodedFrame => ({
  stream: 's',
  seq: 0,
  data,
  keyframe,
  codec,
  captureTimeMs: 0,
  rtpTimestamp: 4242,
  receivedAt: 0,
  width: 320,
  height: 240,
});
const payloadType = (p: Buffer) => h265Type(p.subarray(RTP_HEADER));
const h265Type = (b: Buffer) => (b[0]! >> 1) & 0x3f;
const marker = (p: Buffer) => (p[1]! & 0x80) !== 0;

describe('H265Packetizer (RFC 7798)', () => {
  it('aggregates VPS, SPS and PPS in one AP, sends small NALs as they are, fragments a large IDR in FUs; marker on the last packet only', () => {
    const idr = nal(19, 3000);
    const packets = new H265Packetizer({ payloadType: 96, ssrc: 1, initialSequence: 10 }).packetize(frame(annexB([AUD, VPS, SPS, PPS, idr]), 'h265', true));
    expect(packets.map(payloadType)).toEqual([48, 49, 49, 49]);
    expect(packets.map(marker)).toEqual([false, false, false, true]);
    expect(packets.every((p) => p.length <= 1200)).toBe(true);
    expect(packets.map((p) => p.readUInt16BE(2))).toEqual([10, 11, 12, 13]);
    // FU headers: S on the first, E on the last, the IDR's type in each.
    const fu = packets.slice(1).map((p) => p[RTP_HEADER + 2]!);
    expect(fu.map((b) => [b >> 7, (b >> 6) & 1, b & 0x3f])).toEqual([
      [1, 0, 19],
      [0, 0, 19],
      [0, 1, 19],
    ]);
    // The AUD is dropped (RFC 7798 §4.4.1 allows it); everything else comes back byte for byte.
    expect(depacketizeH265(packets).equals(annexB([VPS, SPS, PPS, idr]))).toBe(true);
  });

  it('puts the last parameter sets before an IRAP picture that lacks them, never before other frames', () => {
    const p = new H265Packetizer({ payloadType: 96, ssrc: 1 });
    p.packetize(frame(annexB([VPS, SPS, PPS, nal(19, 50)]), 'h265', true));
    expect(p.packetize(frame(annexB([nal(1, 50)]), 'h265', false)).map(payloadType)).toEqual([1]);
    const again = p.packetize(frame(annexB([nal(19, 50)]), 'h265', true));
    expect(again.map(payloadType)).toEqual([48, 19]);
    expect(depacketizeH265(again).equals(annexB([VPS, SPS, PPS, nal(19, 50)]))).toBe(true);
  });

  it('shares sequence numbers with the other packetisers of a stream through one writer', () => {
    const writer = new RtpWriter(7, 100);
    const h265 = new H265Packetizer({ payloadType: 96, ssrc: 7, writer });
    expect(h265.packetize(frame(annexB([nal(1, 10)]), 'h265', false))[0]!.readUInt16BE(2)).toBe(100);
    expect(writer.sequence).toBe(101);
  });
});

describe('JpegPacketizer (RFC 2435)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'camd-jpeg-'));
  const file = join(dir, 'f.jpg');
  execFileSync('gst-launch-1.0', [
    '-q',
    ...`videotestsrc num-buffers=1 pattern=ball ! video/x-raw,format=I420,width=320,height=240 ! jpegenc quality=85 ! filesink location=${file}`.split(' '),
  ]);
  const jpeg = readFileSync(file);
  rmSync(dir, { recursive: true, force: true });

  it('reads jpegenc output: 4:2:0 (type 1), size, two 8-bit tables, the scan without EOI', () => {
    const j = parseJpeg(jpeg);
    expect(j).toMatchObject({ type: 1, width: 320, height: 240, restartInterval: 0, precision: 0 });
    expect(j.tables.map((t) => t.length)).toEqual([64, 64]);
    expect(j.scan.length).toBeGreaterThan(100);
    expect(jpeg.subarray(-2).equals(Buffer.from([0xff, 0xd9]))).toBe(true);
    expect(jpeg.indexOf(j.scan) + j.scan.length).toBe(jpeg.length - 2);
  });

  it('sends the main header in every packet, the tables in the first, consecutive fragment offsets, marker on the last', () => {
    const j = parseJpeg(jpeg);
    const packets = new JpegPacketizer({ payloadType: JPEG_PAYLOAD_TYPE, ssrc: 1, mtu: 600 }).packetize(frame(jpeg, 'mjpeg', true));
    expect(packets.length).toBeGreaterThan(2);
    let expected = 0;
    const scan: Buffer[] = [];
    packets.forEach((p, i) => {
      expect(p[1]! & 0x7f).toBe(26);
      expect(p.readUInt32BE(4)).toBe(4242);
      expect(marker(p)).toBe(i === packets.length - 1);
      const h = p.subarray(RTP_HEADER);
      const offset = h.readUInt32BE(0) & 0xffffff;
      expect(offset).toBe(expected);
      // type 1, Q 255 (tables in-band), 320/8, 240/8
      expect([...h.subarray(4, 8)]).toEqual([1, 255, 40, 30]);
      let data = h.subarray(8);
      if (i === 0) {
        expect([data[0], data[1], data.readUInt16BE(2)]).toEqual([0, 0, 128]);
        expect(data.subarray(4, 68).equals(j.tables[0]!)).toBe(true);
        expect(data.subarray(68, 132).equals(j.tables[1]!)).toBe(true);
        data = data.subarray(132);
      }
      scan.push(data);
      expected += data.length;
    });
    expect(Buffer.concat(scan).equals(j.scan)).toBe(true);
  });

  it('refuses, without packets, a picture RTP/JPEG cannot carry (wider than 2040 pixels), and says why', () => {
    const wide = Buffer.from(jpeg);
    const sof = wide.indexOf(Buffer.from([0xff, 0xc0]));
    wide.writeUInt16BE(4096, sof + 7);
    const p = new JpegPacketizer({ payloadType: 26, ssrc: 1 });
    expect(p.packetize(frame(wide, 'mjpeg', true))).toEqual([]);
    expect(p.refused).toBe(1);
    expect(p.lastError).toMatch(/4096x240 is larger than RTP\/JPEG's 2040x2040/);
  });
});
