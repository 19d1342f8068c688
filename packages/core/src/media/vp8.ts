import type { CodecParameters, EncodedFrame } from './types.js';

/** A VP8 frame is a key frame when bit 0 of its frame tag is 0 (RFC 6386 §9.1). */
export function isVp8Keyframe(data: Buffer): boolean {
  return data.length > 0 && (data[0]! & 0x01) === 0;
}

/**
 * Size of a VP8 key frame from its header (RFC 6386 §9.1: 3-byte frame tag, start code 9d 01 2a,
 * 14-bit width and height, little-endian, with 2 bits of scaling each); undefined for an
 * inter frame or a malformed one.
 */
export function parseVp8Parameters(frame: EncodedFrame): CodecParameters | undefined {
  const d = frame.data;
  if (!isVp8Keyframe(d) || d.length < 10 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) return undefined;
  return { codec: 'vp8', width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff, fps: 0 };
}
