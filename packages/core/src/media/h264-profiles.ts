import { h264ProfileClass, NAL, nalType, splitAnnexB, type H264ProfileClass } from './h264.js';

/**
 * The bitstream profiles a decoder of each profile decodes (ITU-T H.264 Annex A.2): a decoder of a
 * higher profile takes every bitstream of the profiles it contains, so a browser that offers High
 * 4:4:4 Predictive (Debian's Chromium) decodes a High stream. Baseline proper (FMO, ASO) is decoded
 * by Baseline and Extended decoders only: Main and High take its Constrained subset.
 */
const DECODES: Record<H264ProfileClass, readonly H264ProfileClass[]> = {
  'constrained-baseline': ['constrained-baseline'],
  baseline: ['constrained-baseline', 'baseline'],
  main: ['constrained-baseline', 'main'],
  // A.2.4.2: Constrained High decoders take Constrained Baseline and Constrained High bitstreams.
  'constrained-high': ['constrained-baseline', 'constrained-high'],
  high: ['constrained-baseline', 'main', 'constrained-high', 'high'],
  'high-10': ['constrained-baseline', 'main', 'constrained-high', 'high', 'high-10'],
  'high-422': ['constrained-baseline', 'main', 'constrained-high', 'high', 'high-10', 'high-422'],
  'high-444-predictive': ['constrained-baseline', 'main', 'constrained-high', 'high', 'high-10', 'high-422', 'high-444-predictive'],
};

/** Profiles from the fewest coding tools to the most: "closest" when nothing offered covers a stream. */
const RANK: readonly H264ProfileClass[] = [
  'constrained-baseline',
  'baseline',
  'main',
  'constrained-high',
  'high',
  'high-10',
  'high-422',
  'high-444-predictive',
];

/** Whether a decoder of profile `decoder` decodes bitstreams of profile `stream` (Annex A). */
export function h264Decodes(decoder: H264ProfileClass, stream: H264ProfileClass): boolean {
  return DECODES[decoder].includes(stream);
}

/**
 * The level of a `profile-level-id` in tenths (level_idc), with level 1b (level_idc 11 and
 * constraint_set3 in Baseline, Main and Extended; level_idc 9 elsewhere) as 9: between 1 and 1.1.
 */
export function h264Level(profileLevelId: string): number {
  const idc = parseInt(profileLevelId.slice(0, 2), 16);
  const flags = parseInt(profileLevelId.slice(2, 4), 16);
  const level = parseInt(profileLevelId.slice(4, 6), 16);
  if (level === 11 && (flags & 0x10) !== 0 && (idc === 66 || idc === 77 || idc === 88)) return 9;
  return level;
}

/** One H.264 format of an offer, as RFC 6184's SDP parameters describe it. */
export interface H264Format {
  readonly profileLevelId: string;
  /** The offerer receives any level its decoder has (RFC 6184 §8.1: `level-asymmetry-allowed=1`). */
  readonly levelAsymmetryAllowed: boolean;
}

/** How an offered format relates to a stream: decodes it exactly, as a superset, or not (`mismatch`, with why). */
export type H264Match = { kind: 'exact' | 'superset' } | { kind: 'mismatch'; reason: string };

/**
 * Whether a receiver that offered `format` decodes a stream of `streamProfileLevelId`: its profile
 * is the stream's or one whose decoders decode it, at a level at or above the stream's (or with
 * level asymmetry allowed, when the offer's level only bounds what the offerer sends).
 */
export function matchH264(format: H264Format, streamProfileLevelId: string): H264Match {
  const stream = h264ProfileClass(streamProfileLevelId);
  const offered = h264ProfileClass(format.profileLevelId);
  if (!stream || !offered) return { kind: 'mismatch', reason: `profile-level-id ${format.profileLevelId} for a ${streamProfileLevelId} stream` };
  if (!h264Decodes(offered, stream)) return { kind: 'mismatch', reason: `a ${offered} decoder for a ${stream} stream` };
  if (!format.levelAsymmetryAllowed && h264Level(format.profileLevelId) < h264Level(streamProfileLevelId)) {
    return {
      kind: 'mismatch',
      reason: `level ${h264Level(format.profileLevelId) / 10} offered for a level ${h264Level(streamProfileLevelId) / 10} stream`,
    };
  }
  return { kind: offered === stream ? 'exact' : 'superset' };
}

/**
 * How far an offered profile is from the stream's when none covers it: the offered profile with the
 * nearest set of coding tools is the likeliest to decode the stream (every browser's software
 * decoder takes any of them); on a tie, the one with more tools.
 */
export function h264Distance(offeredProfileLevelId: string, streamProfileLevelId: string): number {
  const a = RANK.indexOf(h264ProfileClass(offeredProfileLevelId) ?? 'constrained-baseline');
  const b = RANK.indexOf(h264ProfileClass(streamProfileLevelId) ?? 'high');
  return Math.abs(a - b) * 2 + (a < b ? 1 : 0);
}

/** Reads Exp-Golomb coded fields of an RBSP (H.264 §9.1); emulation prevention bytes are skipped. */
class BitReader {
  private bit = 0;
  constructor(private readonly b: Buffer) {}

  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = (v << 1) | this.next();
    return v;
  }

  ue(): number {
    let zeros = 0;
    while (this.next() === 0) if (++zeros > 31) throw new RangeError('bad Exp-Golomb code');
    return (1 << zeros) - 1 + this.u(zeros);
  }

  private next(): number {
    const byte = this.bit >> 3;
    if (byte >= this.b.length) throw new RangeError('SPS truncated');
    // 0x000003: the 03 is emulation prevention, not data.
    if (this.bit % 8 === 0 && byte >= 2 && this.b[byte] === 3 && this.b[byte - 1] === 0 && this.b[byte - 2] === 0) this.bit += 8;
    const v = (this.b[this.bit >> 3]! >> (7 - (this.bit % 8))) & 1;
    this.bit++;
    return v;
  }
}

/**
 * Whether a High-profile SPS describes progressive pictures (`frame_mbs_only_flag`), the one thing
 * besides "no B slices" that Constrained High (constraint_set4 and 5, A.2.4.2) asks of a High stream.
 * False for an SPS it cannot read to that flag (scaling matrices: left alone).
 */
export function h264SpsIsProgressive(sps: Buffer): boolean {
  try {
    const r = new BitReader(sps.subarray(1));
    const profileIdc = r.u(8);
    r.u(16); // constraint flags, level_idc
    r.ue(); // seq_parameter_set_id
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profileIdc)) {
      if (r.ue() === 3) r.u(1); // chroma_format_idc, separate_colour_plane_flag
      r.ue(); // bit_depth_luma_minus8
      r.ue(); // bit_depth_chroma_minus8
      r.u(1); // qpprime_y_zero_transform_bypass_flag
      if (r.u(1)) return false; // seq_scaling_matrix_present_flag: not parsed
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.u(1);
      r.ue();
      r.ue();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.ue();
    }
    r.ue(); // max_num_ref_frames
    r.u(1); // gaps_in_frame_num_value_allowed_flag
    r.ue(); // pic_width_in_mbs_minus1
    r.ue(); // pic_height_in_map_units_minus1
    return r.u(1) === 1;
  } catch {
    return false;
  }
}

/**
 * Declares a High-profile access unit's SPS Constrained High (profile-level-id `640c..`): sets
 * constraint_set4 (progressive) and constraint_set5 (no B slices) in place. Only for an encoder that
 * sends no B-frames (camd's x264: `bframes=0`), and only when the SPS says progressive. x264 never
 * sets these flags itself (it writes 6400xx for High whatever its settings), and h264parse passes
 * them through. The flags byte has no emulation-prevention neighbour to disturb: byte 1 is 0x64.
 * Returns whether the access unit was changed.
 */
export function declareConstrainedHigh(accessUnit: Buffer): boolean {
  let changed = false;
  for (const nal of splitAnnexB(accessUnit)) {
    if (nalType(nal) !== NAL.SPS || nal.length < 4 || nal[1] !== 100 || (nal[2]! & 0x0c) === 0x0c) continue;
    if (!h264SpsIsProgressive(nal)) continue;
    // `nal` is a view into the access unit: this writes the frame's own bytes.
    nal[2] = nal[2]! | 0x0c;
    changed = true;
  }
  return changed;
}
