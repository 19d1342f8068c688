import type { VideoCodec } from './types.js';

/**
 * What an encoder can encode: the limits of the highest level it signals. H.264 counts 16x16
 * macroblocks (ITU-T H.264 Table A-1: MaxFS, MaxMBPS), H.265 luma samples (ITU-T H.265 Tables A.8/A.9:
 * MaxLumaPs, MaxLumaSr). Both also bound each side: at most √(8 · max frame) units, so a frame cannot
 * be one long strip. JPEG has no levels: only its 16-bit size fields (libjpeg: 65500 pixels a side).
 */
export interface EncoderLimits {
  /** e.g. `H.264 level 6.2`. */
  readonly level: string;
  /** The element whose limits these are, when known (`x264enc`). */
  readonly encoder?: string;
  /** Side of the counting unit in pixels: 16 (H.264 macroblocks) or 1 (H.265 luma samples, JPEG pixels). */
  readonly block: 16 | 1;
  /** Name of the unit in messages. */
  readonly unit: 'macroblocks' | 'luma samples' | 'pixels';
  /** Largest picture, in units. */
  readonly maxFrame: number;
  /** Most units a second (Infinity: no rate limit, JPEG). */
  readonly maxRate: number;
  /** Largest side, in pixels. */
  readonly maxSide: number;
}

type Level = readonly [name: string, maxFrame: number, maxRate: number];

/** H.264 Table A-1 from level 3.1 (720p30) up: MaxFS (macroblocks), MaxMBPS (macroblocks/s). */
const H264_LEVELS: readonly Level[] = [
  ['3.1', 3600, 108_000],
  ['3.2', 5120, 216_000],
  ['4', 8192, 245_760],
  ['4.1', 8192, 245_760],
  ['4.2', 8704, 522_240],
  ['5', 22_080, 589_824],
  ['5.1', 36_864, 983_040],
  ['5.2', 36_864, 2_073_600],
  ['6', 139_264, 4_177_920],
  ['6.1', 139_264, 8_355_840],
  ['6.2', 139_264, 16_711_680],
];

/** H.265 Tables A.8/A.9 (Main tier) from level 3.1 up: MaxLumaPs (samples), MaxLumaSr (samples/s). */
const H265_LEVELS: readonly Level[] = [
  ['3.1', 983_040, 33_177_600],
  ['4', 2_228_224, 66_846_720],
  ['4.1', 2_228_224, 133_693_440],
  ['5', 8_912_896, 267_386_880],
  ['5.1', 8_912_896, 534_773_760],
  ['5.2', 8_912_896, 1_069_547_520],
  ['6', 35_651_584, 1_069_547_520],
  ['6.1', 35_651_584, 2_139_095_040],
  ['6.2', 35_651_584, 4_278_190_080],
];

/** libjpeg's JPEG_MAX_DIMENSION (jpegenc's src caps say 65535; libjpeg refuses above 65500). */
const JPEG_MAX_SIDE = 65_500;

/** The limits of `level` of a codec (`h264` `'4.2'`); throws for a level the tables above do not hold. */
export function levelLimits(codec: VideoCodec, level: string, encoder?: string): EncoderLimits {
  if (codec === 'mjpeg') return { level: 'JPEG', encoder, block: 1, unit: 'pixels', maxFrame: JPEG_MAX_SIDE ** 2, maxRate: Infinity, maxSide: JPEG_MAX_SIDE };
  const table = codec === 'h264' ? H264_LEVELS : H265_LEVELS;
  const row = table.find(([name]) => name === level);
  if (!row) throw new Error(`no ${codec} level ${level} (known: ${table.map(([n]) => n).join(', ')})`);
  const block = codec === 'h264' ? 16 : 1;
  return {
    level: `${codec === 'h264' ? 'H.264' : 'H.265'} level ${level}`,
    encoder,
    block,
    unit: codec === 'h264' ? 'macroblocks' : 'luma samples',
    maxFrame: row[1],
    maxRate: row[2],
    maxSide: Math.floor(Math.sqrt(8 * row[1])) * block,
  };
}

/**
 * The highest level a codec's software encoder here signals: x264 and x265 end their level tables at
 * 6.2 (past it they warn and write a stream no decoder is required to play); jpegenc has no level.
 * An encoder candidate with a lower ceiling says so itself (`EncoderCandidate.limits`).
 */
export function codecCeiling(codec: VideoCodec, encoder?: string): EncoderLimits {
  return levelLimits(codec, '6.2', encoder);
}

/** Units of one frame: macroblocks are counted whole (a 1080-line picture is 68 macroblocks high). */
export function frameUnits(l: EncoderLimits, width: number, height: number): number {
  return Math.ceil(width / l.block) * Math.ceil(height / l.block);
}

/** Why the encoder cannot encode `width`x`height` at `fps`, or undefined when it can. */
export function encoderRefuses(l: EncoderLimits, width: number, height: number, fps: number): string | undefined {
  const who = l.encoder ? `${l.level} (${l.encoder})` : l.level;
  if (width > l.maxSide || height > l.maxSide) return `${who} allows at most ${l.maxSide} pixels a side`;
  const frame = frameUnits(l, width, height);
  if (frame > l.maxFrame) return `${who} allows at most ${l.maxFrame} ${l.unit} a frame; ${width}x${height} has ${frame}`;
  if (frame * fps > l.maxRate) {
    const most = Math.floor(l.maxRate / frame);
    return `${who} allows at most ${l.maxRate} ${l.unit} a second: ${width}x${height} up to ${most} fps`;
  }
  return undefined;
}
