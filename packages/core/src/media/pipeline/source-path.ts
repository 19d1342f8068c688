import type { SourceFormat, SourceMode } from '../source-caps.js';
import type { EncoderChoice, SourceFragment, SourcePlan, StreamSettings } from '../types.js';
import type { DecoderCandidate } from './decoders.js';
import { h264CapsProfile } from './encoder-candidate.js';
import { v4l2Controls } from './hw-encoders.js';

/** The picture a path must make: a stream's, or a shared capture's (which never passes through). */
export interface PathTarget {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly codec: StreamSettings['codec'];
  readonly profile: StreamSettings['profile'];
}

export interface PathOptions {
  /** Why the camera's own H.264/H.265 cannot be taken as it is, when it cannot (a filter, the config, a shared capture). */
  readonly noPassthrough?: string;
  readonly chooseDecoder: (format: Exclude<SourceFormat, 'raw'>) => Pick<DecoderCandidate, 'factory' | 'launch' | 'elements' | 'hardware'> | undefined;
}

const NAMES: Record<SourceFormat, string> = { raw: 'raw', jpeg: 'JPEG', h264: 'H.264', h265: 'H.265' };
const MEDIA: Record<SourceFormat, string> = { raw: 'video/x-raw', jpeg: 'image/jpeg', h264: 'video/x-h264', h265: 'video/x-h265' };

/** A frame rate as caps text: 30 → `30/1`, 29.97 → `30000/1001`. */
export function fraction(r: number): string {
  return Number.isInteger(r) ? `${r}/1` : `${Math.round(r * 1001)}/1001`;
}

const near = (a: number, b: number) => Math.abs(a - b) < 0.01;

/** The rate to ask of a mode for `fps`: the smallest it lists at or above it (the pipeline drops the rest), or `fps` in a range. */
function rateFor(m: SourceMode, fps: number): number {
  return m.rates ? Math.min(...m.rates.filter((r) => r + 1e-9 >= fps)) : fps;
}

/** The smallest mode of a format that makes the picture (scaled down, never up; frames dropped, never made up). */
function smallest(modes: readonly SourceMode[], format: SourceFormat, t: PathTarget): SourceMode | undefined {
  return modes
    .filter((m) => m.format === format && m.width >= t.width && m.height >= t.height && m.maxFps + 1e-9 >= t.fps)
    .sort((a, b) => a.width * a.height - b.width * b.height || a.maxFps - b.maxFps)[0];
}

const modeCaps = (m: SourceMode, fps: number, extra = '') =>
  `${MEDIA[m.format]},width=${m.width},height=${m.height},framerate=${fraction(rateFor(m, fps))}${extra}`;
const describe = (m: SourceMode, fps: number) => `${NAMES[m.format]} ${m.width}x${m.height} at ${+rateFor(m, fps).toFixed(2)} fps`;

/**
 * How a stream (or shared capture) reads its source, from what the source delivers (a probed camera):
 * 1. passthrough: the camera's own H.264/H.265 in the stream's codec, size, rate (one it lists) and
 *    profile (when its caps name profiles), when no filter needs raw frames: parsed, not transcoded;
 * 2. raw: the smallest raw mode that makes the picture;
 * 3. jpeg-decode: the smallest JPEG mode, decoded (a hardware JPEG decoder when one passed its trial);
 * 4. decode: the camera's H.264/H.265, decoded; filters and the encoder follow.
 * Passthrough comes first because it costs nothing (measured in `pnpm bench native`); raw before
 * JPEG before H.264 is the order of decoding cost. A source that says nothing (a test pattern, a
 * device the probe did not see) is read raw, as negotiated.
 */
export function planSourcePath(source: SourceFragment, t: PathTarget, opts: PathOptions): SourcePlan {
  const modes = source.capabilities?.modes ?? [];
  if (modes.length === 0)
    return {
      path: 'raw',
      decoders: [],
      why: source.capabilities ? `${source.capabilities.describe}: modes not known, raw frames as negotiated` : 'raw frames',
    };
  const encoded = t.codec === 'h264' || t.codec === 'h265' ? t.codec : undefined;
  const wantProfile = t.codec === 'h264' ? h264CapsProfile(t.profile) : 'main';
  const same = encoded
    ? modes.find(
        (m) =>
          m.format === encoded &&
          m.width === t.width &&
          m.height === t.height &&
          (m.rates ? m.rates.some((r) => near(r, t.fps)) : m.maxFps + 1e-9 >= t.fps) &&
          (!m.profiles || m.profiles.includes(wantProfile)),
      )
    : undefined;
  if (same && !opts.noPassthrough) {
    const profile = same.profiles ? `,profile=${wantProfile}` : '';
    return {
      path: 'passthrough',
      mode: same,
      caps: `${MEDIA[same.format]},width=${t.width},height=${t.height},framerate=${fraction(t.fps)}${profile}`,
      decoders: [],
      why: `the camera delivers ${describe(same, t.fps)} and no filter needs raw frames: its own ${NAMES[same.format]} is passed through, not re-encoded`,
    };
  }
  const unused = same ? ` (its own ${NAMES[same.format]} is not passed through: ${opts.noPassthrough})` : '';
  const raw = smallest(modes, 'raw', t);
  if (raw) return { path: 'raw', mode: raw, caps: modeCaps(raw, t.fps), decoders: [], why: `the camera delivers ${describe(raw, t.fps)}${unused}` };
  for (const format of ['jpeg', encoded === 'h265' ? 'h265' : 'h264', encoded === 'h265' ? 'h264' : 'h265'] as const) {
    const m = smallest(modes, format, t);
    const dec = m && opts.chooseDecoder(format);
    if (!m || !dec) continue;
    return {
      path: format === 'jpeg' ? 'jpeg-decode' : 'decode',
      mode: m,
      caps: modeCaps(m, t.fps),
      decode: dec.launch,
      decoders: dec.elements,
      why: `the camera delivers ${describe(m, t.fps)}, decoded by ${dec.factory}${dec.hardware ? ' (hardware)' : ''}${unused}`,
    };
  }
  return {
    path: 'raw',
    decoders: [],
    why: `no mode of ${source.capabilities!.describe} makes ${t.width}x${t.height} at ${t.fps} fps with a decoder here: raw frames, as negotiated`,
  };
}

/** H.264 profile as V4L2's `h264_profile` control takes it (constrained baseline for baseline: browsers). */
const V4L2_H264_PROFILE: Record<StreamSettings['profile'], number> = { baseline: 1, main: 2, high: 4 };

/**
 * The "encoder" of a passthrough stream: the camera itself. Bitrate, GOP and profile go to the
 * camera's V4L2 controls where its driver has them (UVC H.264: `video_bitrate`,
 * `h264_i_frame_period`), set at start through `extra-controls` on the source element; bitrate
 * changes and keyframe requests (`force_key_frame`) are sent the same way while it plays. Settings
 * the camera has no control for are not applied, and the stats say so.
 */
export function cameraEncoder(s: StreamSettings, source: SourceFragment, plan: SourcePlan): { encoder: EncoderChoice; sourceLaunch: string } {
  const has = new Set(source.controls ?? []);
  const known = source.controls !== undefined;
  const missing = (c: string) =>
    `not applied: ${known ? `the camera has no ${c} control` : "the camera's controls are not known (v4l2-ctl, Debian v4l-utils, reads them)"}`;
  const start: Record<string, number> = {};
  const notes: Record<string, string> = {};
  if (has.has('video_bitrate')) start.video_bitrate = s.bitrate;
  notes.bitrate = has.has('video_bitrate') ? 'video_bitrate control, changed while playing' : missing('video_bitrate');
  const gop = (s.codec === 'h264' ? ['h264_i_frame_period', 'video_gop_size'] : ['video_gop_size']).find((c) => has.has(c));
  if (gop) start[gop] = s.gop;
  notes.gop = gop ? `${gop} control` : missing(s.codec === 'h264' ? 'h264_i_frame_period' : 'video_gop_size');
  if (s.codec === 'h264' && has.has('h264_profile')) start.h264_profile = V4L2_H264_PROFILE[s.profile];
  notes.profile = plan.mode?.profiles
    ? `asked in the caps (${plan.caps?.split('profile=')[1]})`
    : s.codec === 'h264' && has.has('h264_profile')
      ? 'h264_profile control'
      : "the camera's own";
  notes.keyframes = has.has('force_key_frame') ? 'force_key_frame control' : `${missing('force_key_frame')}; keyframes come at the camera's own interval`;
  const controls = Object.keys(start).length ? ` extra-controls="${v4l2Controls(start)}"` : '';
  return {
    sourceLaunch: `${source.launch}${controls}`,
    encoder: {
      owner: 'core',
      factory: source.factory ?? 'camera',
      codec: s.codec,
      hardware: true,
      family: 'camera',
      passthrough: true,
      reason: plan.why,
      launch: '',
      elements: [],
      notes,
      ...(has.has('video_bitrate')
        ? { liveBitrate: (bitrate: number) => ({ element: CAMERA_SOURCE, property: 'extra-controls', value: v4l2Controls({ video_bitrate: bitrate }) }) }
        : { noBitrate: true, bitrateNote: notes.bitrate }),
      ...(has.has('force_key_frame')
        ? { keyframeControl: { element: CAMERA_SOURCE, property: 'extra-controls', value: v4l2Controls({ force_key_frame: 1 }) } }
        : {}),
    },
  };
}

/** Name of a probed camera's source element in a pipeline (its controls are set on it). */
export const CAMERA_SOURCE = 'camd_source';
