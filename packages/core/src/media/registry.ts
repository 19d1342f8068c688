import type { EncoderLimits } from './encoder-limits.js';
import type { DerivedCodec, EncoderChoice, FrameCodec, StreamSettings, VideoCodec } from './types.js';

/** A GStreamer element factory as GStreamer itself describes it. */
export interface ElementInfo {
  readonly name: string;
  readonly rank: number;
  /** e.g. `Codec/Encoder/Video/Hardware`. */
  readonly klass: string;
  readonly plugin: string;
  readonly sinkCaps: readonly string[];
  readonly srcCaps: readonly string[];
}

/**
 * A candidate element for a role, registered by core or a plugin (e.g. a board's hardware encoder):
 * an encoder of a stream's codec, or of a derived codec (VP8, VP9, AV1 for WebRTC clients without
 * the stream's; see `chooseDerivedEncoder`).
 */
export interface EncoderCandidate {
  readonly owner: string;
  readonly factory: string;
  readonly codec: FrameCodec;
  readonly hardware: boolean;
  /** Higher wins among available candidates of the same codec (hardware candidates first). */
  readonly priority: number;
  /**
   * The highest level it encodes (`levelLimits('h264', '4.2')`); without it, the codec's ceiling
   * (H.264/H.265 level 6.2, JPEG's size fields). Stream settings beyond it are refused.
   */
  readonly limits?: EncoderLimits;
  /** Its encoder for the stream's settings, of the candidate's `codec`. */
  build(settings: StreamSettings): EncoderChoice<FrameCodec>;
}

export interface ElementRegistry {
  has(factory: string): boolean;
  get(factory: string): ElementInfo | undefined;
  list(): readonly ElementInfo[];
  /** Debian package that ships a factory (for error messages), when known. */
  packageFor(factory: string): string | undefined;
  registerEncoder(candidate: EncoderCandidate): void;
  /** The best available encoder for the stream's codec; throws CamdError GST_NO_ENCODER. */
  chooseEncoder(settings: StreamSettings): EncoderChoice;
  /**
   * The best available encoder of a derived codec for the stream's pictures (its size, rate, bitrate
   * and GOP), or undefined when this machine has none; `candidatesFor` names what was looked for.
   */
  chooseDerivedEncoder(codec: DerivedCodec, settings: StreamSettings): EncoderChoice<DerivedCodec> | undefined;
  /** The factories registered for a codec, best first, whether present here or not (for error messages). */
  candidatesFor(codec: FrameCodec): readonly string[];
  /** What the encoder `chooseEncoder` picks for a codec can encode; undefined when this machine has none. */
  encoderLimits(codec: VideoCodec): EncoderLimits | undefined;
  /** Throws CamdError GST_ELEMENT_MISSING naming the first absent factory and its Debian package. */
  validateLaunch(launch: string, declared?: readonly string[]): void;
}
