import type { PipelineHandle } from './pipeline-handle.js';
import type { LatencyMode } from '../rules.js';
import type { SourceCapabilities, SourceMode } from './source-caps.js';

/**
 * The media plane's shared vocabulary: stream settings, pipeline fragments, encoded frames.
 * Plugins see these types through hooks; nothing here touches GStreamer directly.
 */

export type VideoCodec = 'h264' | 'h265' | 'mjpeg';
/**
 * Codecs of a derived encoding: an extra, on-demand encoder of a stream's pictures for clients that
 * cannot decode the stream's own codec (WebRTC peers without H.264). Never a stream's `videoEncoder`.
 */
export type DerivedCodec = 'vp8' | 'vp9' | 'av1';
/** What an encoded frame on the hub carries: a stream's codec, or a derived encoding's. */
export type FrameCodec = VideoCodec | DerivedCodec;
export type EncoderProfile = 'baseline' | 'main' | 'high';
export type EncoderPreset = 'ultrafast' | 'fast' | 'medium' | 'slow';

/** Where a stream's pictures come from, as named in the config. */
export type SourceSpec = { kind: 'device'; device: string } | { kind: 'test'; pattern: string };

/**
 * A capture shared by streams that name the same source: one pipeline opens the source and hands raw
 * I420 frames of this size and rate to every stream that reads it. With `fanout: 'memory'` (one media
 * process) the readers take the very same buffers through `tee` → `proxysink`/`proxysrc`, no copy;
 * with `'shm'` (a process per pipeline) the capture writes them to shared memory at `socketPath`.
 */
export interface SharedCaptureRef {
  readonly id: string;
  readonly fanout: 'memory' | 'shm';
  /** The shared-memory socket (`fanout: 'shm'` only). */
  readonly socketPath: string;
  readonly source: SourceSpec;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Names of the streams that read it. */
  readonly streams: readonly string[];
}

/** Everything the pipeline builder needs to know about one stream, resolved from config + state. */
export interface StreamSettings {
  /** Stream name, e.g. `stream1` (the RTSP path without the slash). */
  readonly name: string;
  /** RTSP path as configured, e.g. `/stream1`. */
  readonly path: string;
  readonly source: SourceSpec;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Target bitrate in bit/s. */
  readonly bitrate: number;
  readonly codec: VideoCodec;
  readonly profile: EncoderProfile;
  readonly preset: EncoderPreset;
  /** Keyframe interval in frames. */
  readonly gop: number;
  /**
   * `streamLatencyMode` (low 100 ms, normal 500 ms, high 2000 ms): the raw queues and the encoder
   * follow it (see launch.ts, encoders.ts). Absent: low, the pipeline as it always was.
   */
  readonly latencyMode?: LatencyMode;
  /** Set when the source is shared with other streams: core's source then reads the shared capture. */
  readonly capture?: SharedCaptureRef;
  /**
   * The config's `encoder`: an encoder element named by the operator (`vah264enc`), used for this
   * stream's codec instead of the automatic choice (hardware first, after a trial encode).
   */
  readonly encoder?: string;
  /** The config's `passthrough` (default true): false re-encodes even when the camera's own H.264/H.265 would do. */
  readonly passthrough?: boolean;
}

/**
 * A piece of a GStreamer pipeline in gst-launch syntax. `elements` lists the factories it uses so the
 * registry can check them before anything runs (the launch text is also scanned as a safety net).
 */
export interface PipelineFragment {
  /** Who added it (plugin name), for error messages. */
  readonly owner: string;
  /** gst-launch text, e.g. `timeoverlay name=ts halignment=left`. */
  readonly launch: string;
  /** Factory names used by `launch`. */
  readonly elements: readonly string[];
  /**
   * Properties set once when the pipeline starts, to values known only then (the pipeline's base
   * time). They let native elements show capture time without JavaScript per frame, e.g. a
   * `timeoverlay`'s `datetime-epoch`.
   */
  readonly startProperties?: readonly StartProperty[];
  /**
   * Settings this fragment applies to its running elements, by state key. Every setting read while
   * the pipeline was built is a dependency of it: a change is applied live when each changed key has
   * an applier here (the PiP layout, the timestamp's corner), and rebuilds the pipeline otherwise.
   */
  readonly live?: Readonly<Record<string, LiveApplier>>;
}

/**
 * Applies a new value of a setting to a running pipeline (`handle.setProperty(...)`). It answers
 * `'rebuild'` when the change needs the pipeline built again after all (a filter turned wholly off is
 * left out then, so that a camera's own H.264 can be passed through again).
 */
// biome-ignore lint/suspicious/noConfusingVoidType: appliers that only set properties return setProperty's Promise<void>.
export type LiveApplier = (handle: PipelineHandle, value: unknown) => Promise<void | 'rebuild'> | void | 'rebuild';

/**
 * A value the media process fills in as a pipeline starts:
 * - `baseTime.dateTime`: the base time as a GDateTime in the camera's local zone (for
 *   `timeoverlay datetime-epoch`: running time + epoch = capture wall-clock time);
 * - `baseTime.ns`: the base time as a decimal string of ns since the Unix epoch.
 */
export type StartValue = 'baseTime.dateTime' | 'baseTime.ns';

/** One property of a named element, set to a start value before the pipeline plays. */
export interface StartProperty {
  readonly element: string;
  readonly property: string;
  readonly value: StartValue;
}

/**
 * A stream's source. Core's answer for a probed camera says what it delivers (`capabilities`), and
 * the pipeline picks how to read it (source-path.ts: raw, JPEG decoded, the camera's own H.264 passed
 * through, or decoded). Without capabilities the source is read as raw frames, as negotiated.
 */
export interface SourceFragment extends PipelineFragment {
  readonly capabilities?: SourceCapabilities;
  /**
   * The camera's V4L2 controls (`video_bitrate`, `h264_i_frame_period`, `force_key_frame`, …), set
   * through `extra-controls` on the element named `camd_source`; undefined when not known.
   */
  readonly controls?: readonly string[];
  /** Factory of the source element (`v4l2src`), for stats and messages. */
  readonly factory?: string;
}

/** How a stream reads its source (`/api/stats` names it). */
export type SourcePath = 'raw' | 'jpeg-decode' | 'passthrough' | 'decode';

/** The way a pipeline reads its source, chosen per stream from what the source delivers (source-path.ts). */
export interface SourcePlan {
  readonly path: SourcePath;
  /** The source's mode it reads (a probed camera), when known. */
  readonly mode?: SourceMode;
  /** Caps asked of the source (`image/jpeg,width=1920,height=1080,framerate=30/1`); none: negotiated. */
  readonly caps?: string;
  /** Elements between those caps and raw frames (`jpegdec`; `h264parse ! avdec_h264`); none for raw and passthrough. */
  readonly decode?: string;
  /** Factories `decode` uses. */
  readonly decoders: readonly string[];
  /** Why this path, in words for stats and logs. */
  readonly why: string;
}

/**
 * The pipeline of one stream before it becomes launch text. The builder fills `source` and `encoder`
 * through the `resolveSource` and `chooseEncoder` hooks; filter plugins append to `filters` (raw video,
 * between source caps and encoder) and may add extra `branches` (e.g. PiP's second source).
 */
export interface PipelineSpec {
  readonly stream: StreamSettings;
  source: SourceFragment;
  filters: PipelineFragment[];
  encoder: EncoderChoice;
  branches: PipelineFragment[];
  /** How the source is read; set by the builder after the filters are known (passthrough needs none). */
  path?: SourcePlan;
}

/** Which kind of encoder: a board's hardware family, software, or the camera itself (passthrough). */
export type EncoderFamily = 'v4l2' | 'va' | 'vaapi' | 'jetson' | 'rockchip' | 'software' | 'camera' | (string & {});

/** A property of a named element set to a value while the pipeline plays. */
export interface PropertySet {
  readonly element: string;
  readonly property: string;
  readonly value: string | number | boolean;
}

/** How a chosen encoder is configured and controlled at run time: a stream's (`VideoCodec`) or a derived encoding's. */
export interface EncoderChoice<C extends FrameCodec = VideoCodec> extends PipelineFragment {
  /** Factory name of the encoder element (it is named `encoder` in the pipeline). */
  readonly factory: string;
  readonly codec: C;
  readonly hardware: boolean;
  /** Property that takes the bitrate at run time, and how to convert bit/s into its unit. */
  readonly bitrateProperty?: { readonly name: string; readonly unitBitsPerSecond: number };
  /**
   * How a bitrate change reaches the running encoder when it is not one plain property: V4L2
   * encoders take it in `extra-controls` (`controls,video_bitrate=…`), applied while playing.
   */
  readonly liveBitrate?: (bitsPerSecond: number) => PropertySet;
  /**
   * The encoder has no bitrate at all (JPEG has a quality), or cannot take one (a camera without a
   * `video_bitrate` control): a bitrate change (an operator, ABR) is then applied by doing nothing,
   * instead of rebuilding the pipeline for an identical one. `bitrateNote` says why, in stats.
   */
  readonly noBitrate?: boolean;
  readonly bitrateNote?: string;
  /** The family it belongs to (stats): `va`, `software`, `camera` for passthrough. */
  readonly family?: EncoderFamily;
  /** Why it was chosen, for stats and logs (`hardware (va), trial encode passed`; `configured`). */
  readonly reason?: string;
  /** Raw format it takes (default I420); VA takes NV12, its native layout. */
  readonly inputFormat?: 'I420' | 'NV12';
  /**
   * How a keyframe is asked for when the element named `encoder` does not take GstForceKeyUnit
   * (passthrough: the camera's `force_key_frame` control); absent: the event.
   */
  readonly keyframeControl?: PropertySet;
  /** No encoder runs: the source's own encoded frames are passed through (source-path.ts). */
  readonly passthrough?: boolean;
  /** How each setting reaches it, for stats (a passthrough camera: `bitrate`, `gop`, `profile`, `keyframes`). */
  readonly notes?: Readonly<Record<string, string>>;
  /**
   * The encoder sends no B-frames (x264 with `bframes=0`): a progressive High-profile stream is then
   * declared Constrained High (constraint_set4/5, `640c..`), which Safari's and phones' decoders
   * offer and every High decoder takes (see `declareConstrainedHigh`).
   */
  readonly noBFrames?: boolean;
}

/** One encoded access unit as it leaves the encoder. */
export interface EncodedFrame {
  readonly stream: string;
  /** Monotonic frame counter per stream (restarts never reset it). */
  readonly seq: number;
  /** Annex-B access unit (start codes included). */
  readonly data: Buffer;
  readonly keyframe: boolean;
  readonly codec: FrameCodec;
  /** Capture time on the wall clock, milliseconds since the epoch (fractional). */
  readonly captureTimeMs: number;
  /** 90 kHz RTP timestamp derived from the capture time (wraps at 2^32). */
  readonly rtpTimestamp: number;
  /** `performance.now()` when the daemon received the frame from the encoder. */
  readonly receivedAt: number;
  /** Picture size of the stream that produced it. */
  readonly width: number;
  readonly height: number;
}

/** Parameter sets of the current encoder output, for SDP and late joiners. */
export interface CodecParameters {
  readonly codec: FrameCodec;
  readonly sps?: Buffer;
  readonly pps?: Buffer;
  readonly vps?: Buffer;
  /** `profile-level-id` hex string (H.264), e.g. `640028`: bytes 1–3 of the SPS. */
  readonly profileLevelId?: string;
  /** Profile, tier and level of the SPS (H.265). */
  readonly h265?: H265ProfileTierLevel;
  /** The frame header's profile (VP9: RFC 9628's `profile-id`). */
  readonly vp9Profile?: number;
  /** Profile, level and tier of the sequence header (AV1: the RTP format's `profile`, `level-idx`, `tier`). */
  readonly av1?: { readonly profile: number; readonly levelIdx: number; readonly tier: number };
  readonly width: number;
  readonly height: number;
  readonly fps: number;
}

/** The general profile_tier_level of an H.265 SPS, as RFC 7798's SDP parameters name them. */
export interface H265ProfileTierLevel {
  readonly profileSpace: number;
  readonly tierFlag: number;
  readonly profileId: number;
  readonly levelId: number;
}
