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

/** Extracts SPS/PPS and `profile-level-id` from an H.264 keyframe. */
export function parseParameterSets(frame: EncodedFrame): CodecParameters | undefined {
  if (frame.codec !== 'h264') {
    return { codec: frame.codec, width: frame.width, height: frame.height, fps: 0 };
  }
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
