import type { EncoderChoice, StreamSettings, VideoCodec } from './types.js';

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

/** A candidate element for a role, registered by core or a plugin (e.g. a board's hardware encoder). */
export interface EncoderCandidate {
  readonly owner: string;
  readonly factory: string;
  readonly codec: VideoCodec;
  readonly hardware: boolean;
  /** Higher wins among available candidates of the same codec (hardware candidates first). */
  readonly priority: number;
  build(settings: StreamSettings): EncoderChoice;
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
  /** Throws CamdError GST_ELEMENT_MISSING naming the first absent factory and its Debian package. */
  validateLaunch(launch: string, declared?: readonly string[]): void;
}
