import { existsSync } from 'node:fs';
import { STAGE, type CamdHooks } from '../../hooks.js';
import { CamdError, ErrorCodes } from '../../errors.js';
import type { ElementRegistry } from '../registry.js';
import { captureCaps } from './capture.js';
import { defaultSourceCapabilities } from './source-probe.js';
import { deviceCapabilities } from './devices.js';
import { CAPTURE_FANOUT_ELEMENT, captureInputName, MEDIA_OUT_ELEMENT } from './protocol.js';
import { getLatencyMs } from '../../rules.js';
import type { PipelineFragment, PipelineSpec, SourceFragment, StreamSettings, StartProperty, VideoCodec } from '../types.js';
import type { DeviceDirectory } from './device-directory.js';
import { CAMERA_SOURCE, cameraEncoder, planSourcePath } from './source-path.js';

const CORE = 'core';

import { quote } from './quote.js';
export { quote };

/** Gives every reader of a shared capture in a pipeline its own element name (PiP may read one capture twice). */
let captureReaders = 0;

/**
 * Core's fragment for a configured source: a camera the device probe saw, opened by its own source
 * element (`v4l2src device=…`, or what its provider makes) and with what it delivers; `v4l2src` for a
 * device the probe did not see; live `videotestsrc` otherwise; or the shared capture's frames when
 * other streams use the same source (`proxysrc`, which the media process links to the capture's
 * `tee`; `shmsrc` across processes).
 */
export function defaultSource(stream: StreamSettings, devices?: DeviceDirectory): SourceFragment {
  if (stream.capture) {
    const src = stream.capture.source;
    if (src.kind === 'device' && !existsSync(src.device)) {
      throw new CamdError(
        ErrorCodes.PIPELINE_FAILED,
        `camera device ${src.device} does not exist (stream "${stream.name}", shared with ${stream.capture.streams.filter((n) => n !== stream.name).join(', ')})`,
      );
    }
    if (stream.capture.fanout === 'memory') {
      // The capture's own buffers, timestamps included: every pipeline of a media process shares one base time.
      return {
        owner: CORE,
        launch: `proxysrc name=${captureInputName(stream.capture.id, ++captureReaders)} ! ${captureCaps(stream.capture)}`,
        elements: ['proxysrc'],
      };
    }
    // Timestamped on arrival: the capture pipeline hands each frame over within a millisecond.
    return {
      owner: CORE,
      launch: `shmsrc socket-path=${quote(stream.capture.socketPath)} is-live=true do-timestamp=true ! ${captureCaps(stream.capture)}`,
      elements: ['shmsrc'],
    };
  }
  if (stream.source.kind === 'device') {
    if (!existsSync(stream.source.device)) {
      throw new CamdError(ErrorCodes.PIPELINE_FAILED, `camera device ${stream.source.device} does not exist (stream "${stream.name}")`);
    }
    const d = devices?.find(stream.source.device);
    if (d?.launch && d.factory) {
      // v4l2src timestamps a frame when it is dequeued; other sources (libcamerasrc) stamp their own.
      const stamp = d.factory === 'v4l2src' ? ' do-timestamp=true' : '';
      return {
        owner: CORE,
        launch: `${d.launch} name=${CAMERA_SOURCE}${stamp}`,
        elements: [d.factory],
        factory: d.factory,
        capabilities: deviceCapabilities(d, stream.source.device),
        controls: d.controls,
      };
    }
    return {
      owner: CORE,
      launch: `v4l2src device=${quote(stream.source.device)} name=${CAMERA_SOURCE} do-timestamp=true`,
      elements: ['v4l2src'],
      factory: 'v4l2src',
    };
  }
  return { owner: CORE, launch: `videotestsrc is-live=true pattern=${quote(stream.source.pattern)}`, elements: ['videotestsrc'] };
}

/**
 * Installs core's answers to `resolveSource`, `describeSource` and `chooseEncoder` at STAGE.DEFAULT
 * (plugins tap earlier to override); `devices` are the cameras the device probe saw.
 */
export function installDefaultMediaTaps(hooks: CamdHooks, registry: ElementRegistry, devices?: DeviceDirectory): void {
  hooks.resolveSource.tapPromise({ name: CORE, stage: STAGE.DEFAULT }, async (stream) => defaultSource(stream, devices));
  hooks.describeSource.tapPromise({ name: CORE, stage: STAGE.DEFAULT }, (stream) => defaultSourceCapabilities(stream, devices));
  hooks.chooseEncoder.tapPromise({ name: CORE, stage: STAGE.DEFAULT }, async (stream) => registry.chooseEncoder(stream));
}

/** After the encoder: one access unit per buffer, parameter sets repeated on every keyframe, out to the daemon. */
function tail(codec: VideoCodec): PipelineFragment {
  // The media process gives the fdsink its own connection to the daemon (see media-host.ts).
  const out = `gdppay ! fdsink name=${MEDIA_OUT_ELEMENT} sync=false`;
  switch (codec) {
    case 'h264':
      return {
        owner: CORE,
        launch: `h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! ${out}`,
        elements: ['h264parse', 'gdppay', 'fdsink'],
      };
    case 'h265':
      return {
        owner: CORE,
        launch: `h265parse config-interval=-1 ! video/x-h265,stream-format=byte-stream,alignment=au ! ${out}`,
        elements: ['h265parse', 'gdppay', 'fdsink'],
      };
    case 'mjpeg':
      return { owner: CORE, launch: out, elements: ['gdppay', 'fdsink'] };
  }
}

/** Raw caps every filter sees: the stream's size and rate in I420 (4:2:0, what browsers and players decode). */
export function rawCaps(s: StreamSettings): string {
  return `video/x-raw,format=I420,width=${s.width},height=${s.height},framerate=${s.fps}/1,pixel-aspect-ratio=1/1`;
}

/**
 * Raw frames one of the stream's two leaky queues may hold, by `streamLatencyMode`. Each queue gets
 * half the budget in stream time; when it is full, the oldest frame is dropped (leaky=downstream), so
 * a slow moment never turns into lasting delay.
 * - low: at most 2 frames as well (≤ 33 ms at 60 fps), as measured for camd's 73 ms glass-to-glass.
 * - normal/high: up to the time, so a CPU hiccup of filters or encoder is absorbed instead of dropped;
 *   raw frames are large (3 MiB at 1080p, 12 MiB at 4K), so the bytes are capped too.
 */
export function rawQueue(s: StreamSettings): string {
  const mode = s.latencyMode ?? 'low';
  const halfNs = (getLatencyMs(mode) / 2) * 1_000_000;
  if (mode === 'low') return `queue max-size-buffers=2 max-size-bytes=0 max-size-time=${halfNs} leaky=downstream`;
  const frameBytes = Math.ceil(s.width * s.height * 1.5);
  const bytes = Math.max(2 * frameBytes, RAW_QUEUE_MAX_BYTES);
  return `queue max-size-buffers=0 max-size-bytes=${bytes} max-size-time=${halfNs} leaky=downstream`;
}

/** Memory bound of a raw queue in normal and high (two per stream): 10 frames at 1080p. */
const RAW_QUEUE_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Composes the launch text of a spec; filters and branches come from plugins through `buildPipeline`.
 * A passthrough stream is its source, the caps it asks for and the parser: nothing is decoded or encoded.
 */
export function composeLaunch(spec: PipelineSpec): string {
  const s = spec.stream;
  const path = spec.path;
  if (path?.path === 'passthrough') return [spec.source.launch, path.caps!, tail(s.codec).launch].join(' ! ');
  const parts = [
    spec.source.launch,
    // The camera's mode (size, rate, format), and its decoder when it delivers JPEG or H.264.
    ...(path?.caps ? [path.caps] : []),
    ...(path?.decode ? [path.decode] : []),
    // Capture never waits for processing: when filters or the encoder fall behind, stale raw frames
    // are dropped here (bounded latency: the mode's budget) instead of the source falling behind real time.
    rawQueue(s),
    // drop-only: videorate must never re-create frames the queue above dropped, or an overloaded
    // machine would fall further behind real time instead of dropping.
    'videoconvert ! videoscale ! videorate drop-only=true',
    rawCaps(s),
    ...spec.filters.map((f) => f.launch),
    'videoconvert',
    // The encoder's own layout (I420; NV12 for VA): one conversion, none again for the encoder.
    `video/x-raw,format=${spec.encoder.inputFormat ?? 'I420'}`,
    // The finished pictures, for a derived encoding (VP8 for WebRTC clients without H.264): the media
    // process adds a branch per reader while one runs (see derived.ts); unlinked, it only passes on.
    `tee name=${CAPTURE_FANOUT_ELEMENT} allow-not-linked=true`,
    // Filters and the encoder run in separate threads (two cores); a slow encoder drops here too.
    rawQueue(s),
    spec.encoder.launch,
    tail(s.codec).launch,
  ];
  return [parts.join(' ! '), ...spec.branches.map((b) => b.launch)].join('  ');
}

export interface BuiltPipeline {
  spec: PipelineSpec;
  launch: string;
  startProperties: StartProperty[];
  /** Why the camera's own H.264/H.265 is not passed through when only `rawNeeded` stopped it (else undefined). */
  passthroughHeldBy?: string;
}

/**
 * Runs the pipeline hooks for one stream and returns launch text validated against the registry.
 * `rawNeeded`: something outside the stream's filters reads its pictures (a derived encoding), so the
 * camera's own H.264 is decoded instead of passed through.
 */
export async function buildPipeline(
  stream: StreamSettings,
  hooks: CamdHooks,
  registry: ElementRegistry,
  opts: { rawNeeded?: string } = {},
): Promise<BuiltPipeline> {
  const source = await hooks.resolveSource.promise(stream);
  if (!source) throw new CamdError(ErrorCodes.PIPELINE_FAILED, `no plugin provides a source for stream "${stream.name}"`);
  const encoder = await hooks.chooseEncoder.promise(stream, registry);
  if (!encoder) throw new CamdError(ErrorCodes.GST_NO_ENCODER, `no encoder for stream "${stream.name}" (${stream.codec})`);
  const spec = await hooks.buildPipeline.promise({ stream, source, encoder, filters: [], branches: [] });
  // The source path, once the filters are known: a filter needs raw frames, so no passthrough then.
  const filters = [...spec.filters, ...spec.branches].map((f) => f.owner);
  const noPassthrough = stream.capture
    ? 'the source is shared with other streams as raw frames'
    : stream.passthrough === false
      ? 'passthrough is off in the config'
      : filters.length
        ? `${[...new Set(filters)].join(', ')} needs raw frames`
        : opts.rawNeeded;
  const chooseDecoder = (f: Parameters<ElementRegistry['chooseDecoder']>[0]) => registry.chooseDecoder(f);
  spec.path = planSourcePath(spec.source, stream, { noPassthrough, chooseDecoder });
  const held =
    opts.rawNeeded && noPassthrough === opts.rawNeeded && planSourcePath(spec.source, stream, { chooseDecoder }).path === 'passthrough'
      ? opts.rawNeeded
      : undefined;
  if (spec.path.path === 'passthrough') {
    const camera = cameraEncoder(stream, spec.source, spec.path);
    spec.source = { ...spec.source, launch: camera.sourceLaunch };
    spec.encoder = camera.encoder;
  }
  const launch = composeLaunch(spec);
  const fragments = [
    spec.source,
    spec.encoder,
    ...spec.filters,
    ...spec.branches,
    tail(stream.codec),
    { owner: CORE, launch: '', elements: spec.path.decoders },
  ];
  registry.validateLaunch(launch, [...fragments.flatMap((f) => f.elements), 'tee']);
  return { spec, launch, startProperties: fragments.flatMap((f) => f.startProperties ?? []), ...(held ? { passthroughHeldBy: held } : {}) };
}
