import { BitReader, readLeb128 } from './bits.js';
import type { CodecParameters, EncodedFrame } from './types.js';

/** OBU types (AV1 spec §6.2.2) camd looks at. */
export const OBU = { SEQUENCE_HEADER: 1, TEMPORAL_DELIMITER: 2, FRAME_HEADER: 3, FRAME: 6, TILE_LIST: 8 } as const;

/** One OBU of a temporal unit: its type, its header bytes (with the extension byte), and its payload (without the size field). */
export interface Obu {
  readonly type: number;
  readonly header: Buffer;
  readonly payload: Buffer;
}

/**
 * The OBUs of a temporal unit in the low-overhead bitstream format (AV1 spec §5.2, what av1enc emits:
 * every OBU with its size field). An OBU without a size field runs to the end of the data. Stops at
 * the first malformed or truncated OBU.
 */
export function splitObus(data: Buffer): Obu[] {
  const out: Obu[] = [];
  let o = 0;
  while (o < data.length) {
    const h = data[o]!;
    if (h & 0x80) break; // obu_forbidden_bit
    const headerLen = h & 0x04 ? 2 : 1;
    if (o + headerLen > data.length) break;
    let start = o + headerLen;
    let end = data.length;
    if (h & 0x02) {
      const size = readLeb128(data, start);
      if (!size || start + size.length + size.value > data.length) break;
      start += size.length;
      end = start + size.value;
    }
    out.push({ type: (h >> 3) & 0x0f, header: data.subarray(o, o + headerLen), payload: data.subarray(start, end) });
    o = end;
  }
  return out;
}

export interface Av1SequenceHeader {
  /** seq_profile: 0 Main, 1 High, 2 Professional (RTP's `profile`). */
  readonly profile: number;
  /** seq_level_idx of operating point 0 (RTP's `level-idx`). */
  readonly levelIdx: number;
  /** seq_tier of operating point 0 (RTP's `tier`). */
  readonly tier: number;
  readonly reducedStillPictureHeader: boolean;
  readonly maxWidth: number;
  readonly maxHeight: number;
}

/** The fields of a sequence header OBU's payload (AV1 spec §5.5) up to the largest frame size; undefined when malformed. */
export function parseAv1SequenceHeader(payload: Buffer): Av1SequenceHeader | undefined {
  try {
    const r = new BitReader(payload);
    const profile = r.bits(3);
    r.bits(1); // still_picture
    const reduced = r.flag();
    let levelIdx: number;
    let tier = 0;
    if (reduced) {
      levelIdx = r.bits(5);
    } else {
      let decoderModelInfo = false;
      let bufferDelayLength = 0;
      if (r.flag()) {
        // timing_info (§5.5.3)
        r.bits(32); // num_units_in_display_tick
        r.bits(32); // time_scale
        if (r.flag()) r.uvlc(); // equal_picture_interval: num_ticks_per_picture_minus_1
        decoderModelInfo = r.flag();
        if (decoderModelInfo) {
          // decoder_model_info (§5.5.4)
          bufferDelayLength = r.bits(5) + 1;
          r.bits(32); // num_units_in_decoding_tick
          r.bits(10); // buffer_removal_time_length_minus_1, frame_presentation_time_length_minus_1
        }
      }
      const initialDisplayDelay = r.flag();
      const operatingPoints = r.bits(5) + 1;
      levelIdx = -1;
      for (let i = 0; i < operatingPoints; i++) {
        r.bits(12); // operating_point_idc
        const level = r.bits(5);
        const t = level > 7 ? r.bits(1) : 0;
        if (i === 0) [levelIdx, tier] = [level, t];
        if (decoderModelInfo && r.flag()) r.bits(2 * bufferDelayLength + 1); // operating_parameters_info
        if (initialDisplayDelay && r.flag()) r.bits(4); // initial_display_delay_minus_1
      }
    }
    const widthBits = r.bits(4) + 1;
    const heightBits = r.bits(4) + 1;
    const maxWidth = r.bits(widthBits) + 1;
    const maxHeight = r.bits(heightBits) + 1;
    return { profile, levelIdx, tier, reducedStillPictureHeader: reduced, maxWidth, maxHeight };
  } catch {
    return undefined;
  }
}

/**
 * Whether a temporal unit starts a coded video sequence, where a decoder can join: a sequence header
 * and a key frame that is not a shown existing frame (frame header §5.9.2: show_existing_frame = 0,
 * frame_type = KEY_FRAME).
 */
export function isAv1Keyframe(data: Buffer): boolean {
  const obus = splitObus(data);
  const seq = obus.find((o) => o.type === OBU.SEQUENCE_HEADER);
  const frame = obus.find((o) => o.type === OBU.FRAME || o.type === OBU.FRAME_HEADER);
  if (!seq || !frame || frame.payload.length === 0) return false;
  const header = parseAv1SequenceHeader(seq.payload);
  if (!header) return false;
  if (header.reducedStillPictureHeader) return true; // every frame is a shown key frame
  const b = frame.payload[0]!;
  return (b & 0x80) === 0 && ((b >> 5) & 0x03) === 0;
}

/** Size and profile of an AV1 key temporal unit, from its sequence header; undefined for other temporal units. */
export function parseAv1Parameters(frame: EncodedFrame): CodecParameters | undefined {
  if (!isAv1Keyframe(frame.data)) return undefined;
  const seq = splitObus(frame.data).find((o) => o.type === OBU.SEQUENCE_HEADER)!;
  const h = parseAv1SequenceHeader(seq.payload)!;
  // The frame is at most the sequence's largest size; the stream's own size is what the encoder was given.
  const width = Math.min(frame.width || h.maxWidth, h.maxWidth);
  const height = Math.min(frame.height || h.maxHeight, h.maxHeight);
  return { codec: 'av1', width, height, fps: 0, av1: { profile: h.profile, levelIdx: h.levelIdx, tier: h.tier } };
}
