import type { EncoderLimits } from './encoder-limits.js';
import type { DerivedCodec, EncoderChoice, EncoderFamily, FrameCodec, StreamSettings, VideoCodec } from './types.js';

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
  /** Its family (`v4l2`, `va`, `jetson`, `rockchip`, `software`, …), for stats and `camd probe`. */
  readonly family?: EncoderFamily;
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

/**
 * A one-frame trial of an element (an encoder, a hardware decoder) on this machine: an element can be
 * registered while the device node it drives is missing or busy, and then fails only when used.
 */
export interface ElementTrial {
  readonly factory: string;
  readonly ok: boolean;
  /** Why it failed (GStreamer's error), or `absent`. */
  readonly reason?: string;
  readonly ms?: number;
}

/** What a trial runs: `videotestsrc num-buffers=1 ! … ! <the element as camd would use it> ! fakesink`. */
export interface TrialRequest {
  readonly factory: string;
  readonly launch: string;
  readonly elements: readonly string[];
}

export interface ElementRegistry {
  has(factory: string): boolean;
  get(factory: string): ElementInfo | undefined;
  list(): readonly ElementInfo[];
  /** Debian package that ships a factory (for error messages), when known. */
  packageFor(factory: string): string | undefined;
  registerEncoder(candidate: EncoderCandidate): void;
  /** Every registered encoder candidate, best first per codec (hardware first, then priority). */
  encoderCandidates(): readonly EncoderCandidate[];
  /**
   * The stream's encoder: its configured `encoder` when named, else the best available candidate
   * whose trial did not fail, hardware first; its `reason` says why. Throws CamdError GST_NO_ENCODER.
   */
  chooseEncoder(settings: StreamSettings): EncoderChoice;
  /**
   * The best available encoder of a derived codec for the stream's pictures (its size, rate, bitrate
   * and GOP): a board's hardware one first unless its trial failed, else software; undefined when this
   * machine has none. `candidatesFor` names what was looked for.
   */
  chooseDerivedEncoder(codec: DerivedCodec, settings: StreamSettings): EncoderChoice<DerivedCodec> | undefined;
  /** The factories registered for a codec, best first, whether present here or not (for error messages). */
  candidatesFor(codec: FrameCodec): readonly string[];
  /** What the encoder `chooseEncoder` picks for a codec (or the configured `encoder`) can encode; undefined when this machine has none. */
  encoderLimits(codec: VideoCodec, encoder?: string): EncoderLimits | undefined;
  /**
   * Trials still to run: present hardware elements (encoders, decoders) not tried yet; with
   * `everything`, present software encoders too (`camd probe`).
   */
  trialRequests(opts?: { everything?: boolean }): TrialRequest[];
  /** Records trial results; a failed element is skipped by the automatic choice. */
  recordTrials(results: readonly ElementTrial[]): void;
  /** The trial of an element, when it ran. */
  trial(factory: string): ElementTrial | undefined;
  /**
   * The decoder for what a camera delivers encoded (`jpeg`, `h264`, `h265`): a hardware one whose
   * trial passed, else software; undefined when none is here.
   */
  chooseDecoder(
    format: 'jpeg' | 'h264' | 'h265',
  ): { readonly factory: string; readonly launch: string; readonly elements: readonly string[]; readonly hardware: boolean } | undefined;
  /** Throws CamdError GST_ELEMENT_MISSING naming the first absent factory and its Debian package. */
  validateLaunch(launch: string, declared?: readonly string[]): void;
}
