import { splitAnnexB } from './h264.js';
import type { CodecParameters, EncodedFrame, H265ProfileTierLevel } from './types.js';

/** H.265 NAL unit types camd looks at (ITU-T H.265 Table 7-1). */
export const H265_NAL = { BLA_W_LP: 16, IDR_W_RADL: 19, IDR_N_LP: 20, CRA: 21, VPS: 32, SPS: 33, PPS: 34, AUD: 35, AP: 48, FU: 49 } as const;

/** `nal_unit_type` from the two-byte H.265 NAL header. */
export function h265NalType(nal: Buffer): number {
  return (nal[0]! >> 1) & 0x3f;
}

/** IRAP pictures (BLA, IDR, CRA: types 16–23) are where a decoder can start. */
export function isH265Irap(type: number): boolean {
  return type >= 16 && type <= 23;
}

/** The RBSP of a NAL unit: emulation-prevention bytes (00 00 03) removed. */
export function unescapeRbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

/**
 * The general profile, tier and level of an H.265 SPS (§7.3.3 profile_tier_level, which starts right
 * after the NAL header and one byte of ids), for the SDP's `profile-id`/`tier-flag`/`level-id`.
 */
export function h265ProfileTierLevel(sps: Buffer): H265ProfileTierLevel | undefined {
  const r = unescapeRbsp(sps);
  // 2 bytes NAL header, 1 byte (vps id, max sub-layers, nesting), 1 byte profile space/tier/idc,
  // 4 bytes compatibility flags, 6 bytes constraint flags, 1 byte level.
  if (r.length < 15) return undefined;
  const b = r[3]!;
  return { profileSpace: b >> 6, tierFlag: (b >> 5) & 1, profileId: b & 0x1f, levelId: r[14]! };
}

/** Human name of an H.265 `general_profile_idc`. */
export function h265ProfileName(profileId: number): string {
  switch (profileId) {
    case 1:
      return 'main';
    case 2:
      return 'main-10';
    case 3:
      return 'main-still-picture';
    case 4:
      return 'rext';
    default:
      return `profile-${profileId}`;
  }
}

/** VPS, SPS and PPS of an H.265 keyframe, with the profile, tier and level of its SPS. */
export function parseH265Parameters(frame: EncodedFrame): CodecParameters | undefined {
  let vps: Buffer | undefined;
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  for (const nal of splitAnnexB(frame.data)) {
    if (nal.length < 2) continue;
    const t = h265NalType(nal);
    if (t === H265_NAL.VPS && !vps) vps = Buffer.from(nal);
    else if (t === H265_NAL.SPS && !sps) sps = Buffer.from(nal);
    else if (t === H265_NAL.PPS && !pps) pps = Buffer.from(nal);
  }
  if (!vps || !sps || !pps) return undefined;
  const ptl = h265ProfileTierLevel(sps);
  if (!ptl) return undefined;
  return { codec: 'h265', vps, sps, pps, h265: ptl, width: frame.width, height: frame.height, fps: 0 };
}
