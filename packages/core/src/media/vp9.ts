import { BitReader } from './bits.js';
import type { CodecParameters, EncodedFrame } from './types.js';

/** The start of a VP9 frame's uncompressed header (VP9 bitstream spec §6.2): profile, and whether it is a key frame. */
function frameHeader(data: Buffer): { r: BitReader; profile: number; keyframe: boolean } | undefined {
  try {
    const r = new BitReader(data);
    if (r.bits(2) !== 2) return undefined; // frame_marker
    const profile = r.bits(1) | (r.bits(1) << 1);
    if (profile === 3) r.bits(1); // reserved_zero
    if (r.flag()) return { r, profile, keyframe: false }; // show_existing_frame: shows an earlier frame
    return { r, profile, keyframe: r.bits(1) === 0 }; // frame_type 0: KEY_FRAME
  } catch {
    return undefined;
  }
}

/** A VP9 frame is a key frame when its uncompressed header says frame_type KEY_FRAME. */
export function isVp9Keyframe(data: Buffer): boolean {
  return frameHeader(data)?.keyframe === true;
}

/**
 * Size of a VP9 key frame from its uncompressed header (§6.2: frame sync code 49 83 42, the colour
 * config, then frame_width_minus_1 and frame_height_minus_1 in 16 bits each); undefined for an inter
 * frame or a malformed one.
 */
export function parseVp9Parameters(frame: EncodedFrame): CodecParameters | undefined {
  const h = frameHeader(frame.data);
  if (!h?.keyframe) return undefined;
  try {
    const { r, profile } = h;
    r.bits(2); // show_frame, error_resilient_mode
    if (r.bits(24) !== 0x498342) return undefined;
    // color_config (§6.2.2)
    if (profile >= 2) r.bits(1); // ten_or_twelve_bit
    const colorSpace = r.bits(3);
    if (colorSpace !== 7) {
      r.bits(1); // color_range
      if (profile === 1 || profile === 3) r.bits(3); // subsampling_x, subsampling_y, reserved_zero
    } else if (profile === 1 || profile === 3) {
      r.bits(1); // reserved_zero (RGB is 4:4:4)
    }
    const width = r.bits(16) + 1;
    const height = r.bits(16) + 1;
    return { codec: 'vp9', width, height, fps: 0, vp9Profile: profile };
  } catch {
    return undefined;
  }
}
