import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ElementRegistry } from '../registry.js';
import type { SharedCaptureRef, SourceFragment, SourcePlan, SourceSpec, StreamSettings } from '../types.js';
import { planSourcePath } from './source-path.js';
import { RestartSupervisor, STABLE_MS } from './restart-policy.js';
import type { MediaPipeline, MediaProcess } from './media-process.js';
import { CAPTURE_FANOUT_ELEMENT } from './protocol.js';
import { sourceKey } from '../source-caps.js';

/** Raw frames the shared memory holds (`fanout: 'shm'`): readers that fall behind this far lose frames, never block capture. */
const SHM_FRAMES = 24;

const describe = (s: SourceSpec) => (s.kind === 'device' ? s.device : `test pattern ${s.pattern}`);

/**
 * Streams that name the same source (a camera device opens once) share one capture: a pipeline that
 * captures and converts to I420 at the largest configured size and rate. Each stream's pipeline takes
 * its frames and scales, filters and encodes on its own: in one media process through a `tee` branch
 * the media process adds per reader (see media-host.ts), across processes (`isolation: pipeline`)
 * through shared memory (`shmsink`/`shmsrc`). `alsoRead` names streams whose source a plugin reads too
 * (`shareSource`). Returns each sharing stream with its capture; streams with a source of their own are
 * returned unchanged.
 */
export function planSharedCaptures(
  streams: StreamSettings[],
  alsoRead: ReadonlySet<string> = new Set(),
  fanout: SharedCaptureRef['fanout'] = 'memory',
  dir = tmpdir(),
): StreamSettings[] {
  const groups = new Map<string, StreamSettings[]>();
  for (const s of streams) groups.set(sourceKey(s.source), [...(groups.get(sourceKey(s.source)) ?? []), s]);
  const refs = new Map<string, SharedCaptureRef>();
  let n = 0;
  for (const [key, group] of groups) {
    // Shared when two streams use it, or when a plugin reads a stream's source besides the stream.
    if (group.length < 2 && !group.some((s) => alsoRead.has(s.name))) continue;
    // The largest picture and rate any sharing stream is configured with; a stream later changed to
    // more than that is upscaled (the capture keeps running for the others).
    const largest = group.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
    refs.set(key, {
      id: `capture${++n}`,
      fanout,
      socketPath: join(dir, `camd-${process.pid}-capture${n}.sock`),
      source: group[0]!.source,
      width: largest.width,
      height: largest.height,
      fps: Math.max(...group.map((s) => s.fps)),
      streams: group.map((s) => s.name),
    });
  }
  return streams.map((s) => (refs.has(sourceKey(s.source)) ? { ...s, capture: refs.get(sourceKey(s.source)) } : s));
}

/** Raw caps of a shared capture, written by its capture pipeline and read by every sharing stream. */
export function captureCaps(c: SharedCaptureRef): string {
  return `video/x-raw,format=I420,width=${c.width},height=${c.height},framerate=${c.fps}/1,pixel-aspect-ratio=1/1`;
}

export interface SharedCaptureStats {
  id: string;
  /** How readers get the frames: `memory` (the same buffers, one process) or `shm` (shared memory). */
  fanout: SharedCaptureRef['fanout'];
  source: string;
  streams: readonly string[];
  width: number;
  height: number;
  fps: number;
  running: boolean;
  /** How it reads its source: `raw`, `jpeg-decode` or `decode` (never passthrough: its readers take raw frames). */
  sourcePath?: string;
  sourceWhy?: string;
  restarts: number;
  errors: number;
  lastError: string | null;
}

/** One shared capture pipeline, restarted with backoff; `onRestarted` lets the readers rejoin at once. */
export class SharedCapture {
  private pipeline?: MediaPipeline;
  /** How the last run reads its source (raw, JPEG decoded, H.264 decoded). */
  private path?: SourcePlan;
  private playing = false;
  private readonly supervisor: RestartSupervisor;

  constructor(
    readonly ref: SharedCaptureRef,
    /** The source itself (core's `v4l2src …` or `videotestsrc …`); throws when it cannot be opened (no device). */
    private readonly source: () => SourceFragment,
    private readonly deps: { registry: ElementRegistry; logger: Logger; media: MediaProcess; onRestarted: () => void },
  ) {
    this.supervisor = new RestartSupervisor(
      () => void this.spawn(),
      ({ message, retryInMs }) => deps.logger.error({ capture: ref.id, retryInMs }, `shared capture failed: ${message}`),
    );
  }

  private launchText(source: SourceFragment): { launch: string; elements: string[] } {
    const frameBytes = (this.ref.width * this.ref.height * 3) / 2;
    // Raw frames for every reader: a camera's JPEG or H.264 is decoded once, here.
    const { width, height, fps } = this.ref;
    this.path = planSourcePath(
      source,
      { width, height, fps, codec: 'h264', profile: 'main' },
      {
        noPassthrough: 'the capture hands raw frames to every stream that reads it',
        chooseDecoder: (f) => this.deps.registry.chooseDecoder(f),
      },
    );
    // Never waits for readers: a reader that is gone or slow does not hold the camera back (the
    // media process gives each reader's branch a leaky queue; shmsink drops when its area is full).
    const out =
      this.ref.fanout === 'memory'
        ? { launch: `tee name=${CAPTURE_FANOUT_ELEMENT} allow-not-linked=true`, element: 'tee' }
        : {
            launch: `shmsink socket-path=${this.ref.socketPath} shm-size=${Math.ceil(frameBytes * SHM_FRAMES)} wait-for-connection=false sync=false`,
            element: 'shmsink',
          };
    return {
      launch: [
        source.launch,
        ...(this.path.caps ? [this.path.caps] : []),
        ...(this.path.decode ? [this.path.decode] : []),
        'queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream',
        // qos=false: a reader's QoS events travel up through the tee; one late reader must not make
        // the capture drop frames for every stream.
        'videoconvert qos=false ! videoscale qos=false ! videorate drop-only=true',
        captureCaps(this.ref),
        out.launch,
      ].join(' ! '),
      elements: [...this.path.decoders, 'queue', 'videoconvert', 'videoscale', 'videorate', out.element],
    };
  }

  /** The pid of the media process running the capture. */
  get pid(): number | undefined {
    return this.pipeline?.pid;
  }

  /** Fails the capture as a camera fault would (tests, fault drills); false when it is not running. */
  fail(message = 'fault injected'): boolean {
    if (!this.pipeline?.running) return false;
    this.pipeline.fail(message);
    return true;
  }

  /** Starts the capture pipeline; resolves once it plays (readers can connect) or has failed (backoff runs). */
  async start(): Promise<void> {
    this.supervisor.start();
    await this.spawn();
  }

  async stop(): Promise<void> {
    this.supervisor.stop();
    const w = this.pipeline;
    this.pipeline = undefined;
    await w?.stop();
    rmSync(this.ref.socketPath, { force: true });
  }

  stats(): SharedCaptureStats {
    const { id, fanout, width, height, fps, streams } = this.ref;
    return {
      id,
      fanout,
      source: describe(this.ref.source),
      streams,
      width,
      height,
      fps,
      running: this.playing && !!this.pipeline?.running,
      ...(this.path ? { sourcePath: this.path.path, sourceWhy: this.path.why } : {}),
      ...this.supervisor.stats(),
    };
  }

  /** Restarts now if the capture is down and waiting out its backoff (its camera is back). */
  retryNow(): void {
    if (!this.pipeline) this.supervisor.retryNow();
  }

  /** How the capture reads its source, once it has run. */
  get sourcePath(): SourcePlan | undefined {
    return this.path;
  }

  private spawn(): Promise<void> {
    let launch: string;
    try {
      const source = this.source();
      const text = this.launchText(source);
      launch = text.launch;
      this.deps.registry.validateLaunch(launch, [...source.elements, ...text.elements]);
    } catch (err) {
      // The readers report it too (a missing device names itself there); retried with backoff.
      this.supervisor.failed((err as Error).message);
      return Promise.resolve();
    }
    // A killed capture leaves its socket behind, and shmsink cannot bind over it.
    rmSync(this.ref.socketPath, { force: true });
    const pipeline = this.deps.media.start(launch, { output: false, role: this.ref.id });
    this.pipeline = pipeline;
    this.playing = false;
    const log = this.deps.logger.child({ capture: this.ref.id, source: describe(this.ref.source), streams: this.ref.streams });
    return new Promise<void>((resolve) => {
      pipeline.on('playing', () => {
        this.playing = true;
        log.info({ pid: pipeline.pid, size: `${this.ref.width}x${this.ref.height}`, fps: this.ref.fps }, 'shared capture playing');
        // Stable again once it has played for a while; a crash loop keeps backing off.
        setTimeout(() => {
          if (this.pipeline === pipeline && pipeline.running) this.supervisor.running(STABLE_MS);
        }, STABLE_MS).unref();
        if (this.supervisor.stats().restarts > 0) this.deps.onRestarted();
        resolve();
      });
      pipeline.on('warning', (w) => log.warn(`GStreamer: ${w.message}`));
      pipeline.on('gstError', (e) => {
        this.supervisor.noteError(e.message);
        log.error({ debug: e.debug }, `GStreamer error: ${e.message}`);
      });
      pipeline.on('exit', ({ code, signal }) => {
        resolve();
        if (this.pipeline !== pipeline) return; // stopped on purpose
        this.pipeline = undefined;
        this.playing = false;
        const last = this.supervisor.stats().lastError;
        this.supervisor.failed(
          signal ? `media process killed by ${signal}` : code === 0 ? 'the capture ended (end of stream)' : (last ?? `media process exited with ${code}`),
        );
      });
    });
  }
}
