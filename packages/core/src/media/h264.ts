import type { CodecParameters, EncodedFrame } from './types.js';

export const NAL = { SLICE: 1, IDR: 5, SEI: 6, SPS: 7, PPS: 8, AUD: 9 } as const;

/** Splits an Annex-B byte stream into NAL units (views into `data`, start codes removed). */
export function splitAnnexB(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const n = data.length;
  let i = 0;
  let start = -1;
  while (i + 2 < n) {
    if (data[i] === 0 && data[i + 1] === 0 && (data[i + 2] === 1 || (data[i + 2] === 0 && i + 3 < n && data[i + 3] === 1))) {
      const scLen = data[i + 2] === 1 ? 3 : 4;
      if (start >= 0) out.push(trimTrailingZeros(data.subarray(start, i)));
      i += scLen;
      start = i;
      continue;
    }
    i++;
  }
  if (start >= 0 && start < n) out.push(data.subarray(start, n));
  else if (start < 0 && n > 0) out.push(data); // no start code: a single bare NAL
  return out.filter((b) => b.length > 0);
}

function trimTrailingZeros(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

export function nalType(nal: Buffer): number {
  return nal[0]! & 0x1f;
}

/** Extracts SPS/PPS and `profile-level-id` from an H.264 keyframe (`parseParameterSets` in codec.ts dispatches by codec). */
export function parseH264Parameters(frame: EncodedFrame): CodecParameters | undefined {
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  for (const nal of splitAnnexB(frame.data)) {
    const t = nalType(nal);
    if (t === NAL.SPS && !sps) sps = Buffer.from(nal);
    else if (t === NAL.PPS && !pps) pps = Buffer.from(nal);
  }
  if (!sps || !pps || sps.length < 4) return undefined;
  return {
    codec: 'h264',
    sps,
    pps,
    profileLevelId: sps.subarray(1, 4).toString('hex'),
    width: frame.width,
    height: frame.height,
    fps: 0,
  };
}

/** Human name of an H.264 `profile_idc`. */
export function h264ProfileName(profileIdc: number, constraintFlags = 0): string {
  switch (profileIdc) {
    case 66:
      return constraintFlags & 0x40 ? 'constrained-baseline' : 'baseline';
    case 77:
      return 'main';
    case 100:
      return 'high';
    default:
      return `profile-${profileIdc}`;
  }
}

/** H.264 profiles as RFC 6184 offer/answer and browsers tell them apart. */
export type H264ProfileClass = 'constrained-baseline' | 'baseline' | 'main' | 'high' | 'constrained-high' | 'high-10' | 'high-422' | 'high-444-predictive';

/**
 * The profile a `profile-level-id` (or an SPS's bytes 1–3) names, by profile_idc and constraint
 * flags, with the same table WebRTC implementations use to match an answer's format to an offer's
 * (libwebrtc `h264_profile_level_id.cc`): a browser applies an answer only when the profile is the
 * one it offered for that payload type. Undefined for profiles browsers do not name.
 */
export function h264ProfileClass(profileLevelId: string): H264ProfileClass | undefined {
  if (!/^[0-9a-f]{6}$/i.test(profileLevelId)) return undefined;
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const flags = parseInt(profileLevelId.slice(2, 4), 16);
  // The low four constraint flags must be clear for every pattern but constrained high's.
  const low = flags & 0x0f;
  if (idc === 0x42 && low === 0) return flags & 0x40 ? 'constrained-baseline' : 'baseline';
  if (idc === 0x4d && low === 0) return flags & 0x80 ? 'constrained-baseline' : flags & 0x20 ? undefined : 'main';
  if (idc === 0x58 && low === 0 && flags & 0x80) return flags & 0x40 ? 'constrained-baseline' : 'baseline';
  if (idc === 0x64 && flags === 0x00) return 'high';
  if (idc === 0x64 && flags === 0x0c) return 'constrained-high';
  // High 10 and 4:2:2 (no browser offers them; their decoders decode High, Annex A.2.5–A.2.6).
  if (idc === 0x6e && flags === 0x00) return 'high-10';
  if (idc === 0x7a && flags === 0x00) return 'high-422';
  if (idc === 0xf4 && flags === 0x00) return 'high-444-predictive';
  return undefined;
}
