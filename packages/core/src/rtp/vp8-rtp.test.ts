import { describe, expect, it } from 'vitest';
import type { EncodedFrame } from '../media/types.js';
import { isVp8Keyframe, parseVp8Parameters } from '../media/vp8.js';
import { depacketizeVp8, Vp8Packetizer } from './vp8-rtp.js';

/** A VP8 key frame header (RFC 6386 §9.1): frame tag (key frame, shown), start code, 640x360. */
function keyframe(bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0x5a);
  b[0] = 0x10; // bit 0 clear: key frame; show_frame set
  b[1] = 0x02;
  b[2] = 0x00;
  b.set([0x9d, 0x01, 0x2a], 3);
  b.writeUInt16LE(640, 6);
  b.writeUInt16LE(360, 8);
  return b;
}
const frame = (data: Buffer, keyframe: boolean): EncodedFrame => ({
  stream: 's:vp8',
  seq: 1,
  data,
  keyframe,
  codec: 'vp8',
  captureTimeMs: 0,
  rtpTimestamp: 1234,
  receivedAt: 0,
  width: 640,
  height: 360,
});

describe('VP8 (RFC 6386 headers, RFC 7741 packets)', () => {
  it('reads key frames and their size', () => {
    expect(isVp8Keyframe(keyframe(20))).toBe(true);
    expect(isVp8Keyframe(Buffer.from([0x31, 0, 0]))).toBe(false);
    expect(parseVp8Parameters(frame(keyframe(20), true))).toEqual({ codec: 'vp8', width: 640, height: 360, fps: 0 });
    expect(parseVp8Parameters(frame(Buffer.from([0x31, 0, 0]), false))).toBeUndefined();
  });

  it('splits a frame into packets under the MTU with a descriptor each: S on the first, a PictureID per frame, the marker on the last', () => {
    const p = new Vp8Packetizer({ payloadType: 96, ssrc: 1, mtu: 200 });
    const data = keyframe(1000);
    const packets = p.packetize(frame(data, true));
    expect(packets.length).toBe(6);
    for (const [i, pkt] of packets.entries()) {
      expect(pkt.length).toBeLessThanOrEqual(200);
      expect(pkt[1]! & 0x80).toBe(i === packets.length - 1 ? 0x80 : 0);
      expect(pkt[12]! & 0x10).toBe(i === 0 ? 0x10 : 0); // S: start of partition 0
      expect(pkt[13]).toBe(0x80); // I: PictureID present
      expect(pkt[14]! & 0x80).toBe(0x80); // M: 15-bit PictureID
    }
    expect(depacketizeVp8(packets)).toEqual(data);
    const pid = (b: Buffer) => ((b[14]! & 0x7f) << 8) | b[15]!;
    const next = p.packetize(frame(Buffer.from([0x31, 0, 0, 1, 2]), false));
    expect(next).toHaveLength(1);
    expect(pid(next[0]!)).toBe((pid(packets[0]!) + 1) & 0x7fff);
  });
});
