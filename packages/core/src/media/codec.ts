import { NAL, nalType, parseH264Parameters, splitAnnexB } from './h264.js';
import { h265NalType, isH265Irap, parseH265Parameters } from './h265.js';
import { isVp8Keyframe, parseVp8Parameters } from './vp8.js';
import { isVp9Keyframe, parseVp9Parameters } from './vp9.js';
import { isAv1Keyframe, parseAv1Parameters } from './av1.js';
import type { CodecParameters, EncodedFrame, FrameCodec } from './types.js';

/**
 * What a keyframe of each codec tells a client before its first packet (go2rtc's lesson: one codec
 * description travels with every track): parameter sets and profile for H.264 and H.265; size for
 * JPEG, whose every frame stands alone.
 */
export function parseParameterSets(frame: EncodedFrame): CodecParameters | undefined {
  switch (frame.codec) {
    case 'h264':
      return parseH264Parameters(frame);
    case 'h265':
      return parseH265Parameters(frame);
    case 'mjpeg':
      return { codec: 'mjpeg', width: frame.width, height: frame.height, fps: 0 };
    case 'vp8':
      return parseVp8Parameters(frame);
    case 'vp9':
      return parseVp9Parameters(frame);
    case 'av1':
      return parseAv1Parameters(frame);
  }
}

/**
 * Whether an access unit is a point a decoder can start from: an IDR (H.264), an IRAP picture
 * (H.265), any JPEG. Parsers also clear DELTA_UNIT on non-IDR I frames, which are no join points
 * (no parameter sets, and references may precede them).
 */
export function isJoinPoint(codec: FrameCodec, data: Buffer): boolean {
  switch (codec) {
    case 'h264':
      return splitAnnexB(data).some((n) => nalType(n) === NAL.IDR);
    case 'h265':
      return splitAnnexB(data).some((n) => n.length >= 2 && isH265Irap(h265NalType(n)));
    case 'mjpeg':
      return true;
    case 'vp8':
      return isVp8Keyframe(data);
    case 'vp9':
      return isVp9Keyframe(data);
    case 'av1':
      return isAv1Keyframe(data);
  }
}

/** Whether two parameter descriptions describe the same bitstream format (same codec, size and parameter sets). */
export function sameParameters(a: CodecParameters | undefined, b: CodecParameters | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.codec === b.codec &&
    a.width === b.width &&
    a.height === b.height &&
    sameBytes(a.sps, b.sps) &&
    sameBytes(a.pps, b.pps) &&
    sameBytes(a.vps, b.vps) &&
    a.vp9Profile === b.vp9Profile &&
    a.av1?.profile === b.av1?.profile
  );
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** How a codec is named to people (stats, errors, the viewer page). */
export const CODEC_LABEL: Record<FrameCodec, string> = { h264: 'H.264', h265: 'H.265', mjpeg: 'MJPEG', vp8: 'VP8', vp9: 'VP9', av1: 'AV1' };
