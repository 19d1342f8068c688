import type { Logger } from 'pino';
import type { CamdHooks } from '../../hooks.js';
import type { StreamHub } from '../hub.js';
import type { ElementRegistry } from '../registry.js';
import type { EncodedFrame, LiveApplier, PropertySet, SourcePlan, StreamSettings, VideoCodec } from '../types.js';
import { encoderStats, liveAppliers, type EncoderStats } from './live-control.js';
import type { PipelineHandle } from '../pipeline-handle.js';
import { checkStreamHealth } from '../../rules.js';
import { buildPipeline } from './launch.js';
import { trackReads } from '../../state/reads.js';
import type { MediaPipeline, MediaProcess, RawFrame } from './media-process.js';
import type { PropertyValue } from './protocol.js';
import { ProductionMeter, type StreamStats } from './stream-stats.js';
import { isJoinPoint } from '../codec.js';
import { declareConstrainedHigh } from '../h264-profiles.js';
import { RestartSupervisor } from './restart-policy.js';

export { BACKOFF_MS } from './restart-policy.js';

/** Health: no frame for this long means the stream is stalled. */
const STALL_MS = 2000;
/**
 * A pipeline that plays but has delivered no frame for this long (or for its latency budget, if
 * longer) is restarted. The first frame of a fresh pipeline gets more time: encoders warm up.
 */
export const STALL_RESTART_MS = 2000;
const FIRST_FRAME_MS = 8000;
const FIRST_FRAME_MAX_MS = 30_000;
const WATCHDOG_INTERVAL_MS = 250;
const KEYFRAME_REQUEST_MIN_INTERVAL_MS = 250;

export interface RunnerDeps {
  hooks: CamdHooks;
  hub: StreamHub;
  registry: ElementRegistry;
  logger: Logger;
  /** The media process that runs this stream's pipeline. */
  media: MediaProcess;
  /** The stream's own setting keys (`streamBitrate` or `stream2.streamBitrate`, …): always dependencies. */
  ownKeys: readonly string[];
  /** Which of them holds the bitrate, applied to a running encoder that can take it. */
  bitrateKey: string;
  /** The stream's latency budget in ms (`streamLatencyMode`); a stall restart waits at least this long. */
  latencyBudgetMs?: () => number;
  /**
   * Called when the pipeline stalled again after a stall restart without a frame in between: what
   * feeds it (a shared capture) may be the part that is stuck.
   */
  onRepeatedStall?: (stream: string) => void;
  /** The pipeline's role in its media process: readers of its finished pictures (derived encodings) find its `tee` by it. */
  role?: string;
  /** The pipeline reached PLAYING (after a start, rebuild or restart). */
  onPlaying?: () => void;
}

/** Where a stream's pipeline is: with `running: false` in stats, `state` and `lastError` say why. */
export type PipelineState = 'stopped' | 'starting' | 'playing' | 'stalled' | 'restarting';

/**
 * Keeps one stream's pipeline running: builds it through the hooks, runs it in the media process, publishes
 * its frames to the hub, applies live changes, restarts it with backoff, and measures it.
 */
export class StreamRunner {
  private pipeline?: MediaPipeline;
  private playingAt?: number;
  /** The stall check fired for this run (it fails the pipeline once). */
  private stallReported = false;
  /** Stalls since the last frame: a second one in a row suspects the source, not the pipeline. */
  private stallsInARow = 0;
  private watchdog?: NodeJS.Timeout;
  /** Keys read while the running pipeline was built (its dependencies besides the stream's own settings). */
  private reads: ReadonlySet<string> = new Set();
  /** Live appliers of the running pipeline, by state key. */
  private live = new Map<string, LiveApplier[]>();
  private seq = 0;
  private readonly supervisor: RestartSupervisor;
  private stopped = true;
  private startedAt?: number;
  private firstFrameAt?: number;
  private lastFrameAt?: number;
  private readonly meter = new ProductionMeter();
  private lastKeyframeRequest = 0;
  private generation = 0;
  /** Codec of the frames the running pipeline delivers. */
  private runCodec?: VideoCodec;
  /** What the last built pipeline reads and encodes with, and why (stats). */
  private media?: { encoder: EncoderStats; path: SourcePlan; keyframe?: PropertySet };
  private launched?: string;
  /** Why raw pictures are needed beyond the filters (needRawPictures), and whether that alone kept passthrough off. */
  private rawNeeded?: string;
  private heldPassthrough?: string;

  constructor(
    private settings: StreamSettings,
    private readonly deps: RunnerDeps,
  ) {
    deps.hub.setKeyframeRequester(settings.name, () => this.requestKeyframe());
    this.supervisor = new RestartSupervisor(
      () => void this.launch(),
      ({ message, retryInMs, errors }) => deps.logger.error({ stream: this.settings.name, retryInMs, errors }, `pipeline failed: ${message}`),
    );
  }

  get current(): StreamSettings {
    return this.settings;
  }

  /** Replaces the settings before the first start (the media plane plans shared captures then). */
  configure(settings: StreamSettings): void {
    if (!this.stopped) throw new Error('configure() is for a runner that has not started');
    this.settings = settings;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.supervisor.start();
    this.watchdog = setInterval(() => this.checkStall(), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
    await this.launch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.supervisor.stop();
    clearInterval(this.watchdog);
    await this.stopPipeline('shutdown');
  }

  /**
   * The supervisor's stall check: a pipeline that plays but delivers nothing (a blocked element, a
   * capture that stopped feeding it) fails like a crashed one, so the usual backoff restarts it.
   */
  private checkStall(): void {
    const p = this.pipeline;
    if (!p || this.startedAt === undefined || this.stallReported) return;
    const now = performance.now();
    // Frames of this run only: a pipeline that never reaches PLAYING or never delivers counts too.
    const last = this.firstFrameAt !== undefined ? this.lastFrameAt : undefined;
    // A first frame that is merely slow (an overloaded machine, fonts and encoders warming up in a fresh
    // media process) gets more time after each such stall, so that restarts never keep it from coming.
    const limit =
      last === undefined
        ? Math.min(FIRST_FRAME_MS * (1 + this.stallsInARow), FIRST_FRAME_MAX_MS)
        : Math.max(STALL_RESTART_MS, this.deps.latencyBudgetMs?.() ?? 0);
    const silentMs = now - (last ?? this.startedAt);
    if (silentMs <= limit) return;
    this.stallReported = true;
    const reason =
      last === undefined
        ? `stalled: no first frame ${(silentMs / 1000).toFixed(1)} s after start (${this.playingAt === undefined ? 'never reached PLAYING' : 'playing'})`
        : `stalled: no frame for ${(silentMs / 1000).toFixed(1)} s while playing`;
    this.supervisor.noteError(reason);
    this.deps.logger.warn({ stream: this.settings.name }, `pipeline ${reason}; restarting it`);
    p.fail(reason);
    if (++this.stallsInARow >= 2) this.deps.onRepeatedStall?.(this.settings.name);
  }

  /** Fails the running pipeline as a GStreamer error would (tests, fault drills); false when none runs. */
  failPipeline(message = 'fault injected'): boolean {
    if (!this.pipeline?.running) return false;
    this.pipeline.fail(message);
    return true;
  }

  /** Where the pipeline is now (stats). */
  get state(): PipelineState {
    if (this.stopped) return 'stopped';
    if (!this.pipeline) return this.supervisor.waiting ? 'restarting' : 'starting';
    if (this.playingAt === undefined && this.firstFrameAt === undefined) return 'starting';
    const now = performance.now();
    return this.lastFrameAt !== undefined && now - this.lastFrameAt < STALL_MS ? 'playing' : this.lastFrameAt === undefined ? 'starting' : 'stalled';
  }

  /** Whether a change of `key` concerns this stream: its own settings, or a key read while its pipeline was built. */
  dependsOn(key: string): boolean {
    return this.deps.ownKeys.includes(key) || this.reads.has(key);
  }

  /**
   * Applies changed settings: live when every changed key has an applier in the running pipeline
   * (a fragment's `live`, or the encoder's bitrate), by a rebuild otherwise or when an applier fails.
   */
  async apply(changed: ReadonlyMap<string, unknown>, next: StreamSettings): Promise<void> {
    this.settings = next;
    const pipeline = this.pipeline;
    const appliers = [...changed.keys()].map((k) => this.live.get(k));
    if (pipeline?.running && this.playingAt !== undefined && appliers.every((a) => a && a.length > 0)) {
      try {
        const handle = this.handle(pipeline);
        const rebuild: string[] = [];
        for (const [key, value] of changed) for (const a of this.live.get(key)!) if ((await a(handle, value)) === 'rebuild') rebuild.push(key);
        if (rebuild.length === 0) {
          this.deps.logger.info({ stream: next.name, keys: [...changed.keys()] }, 'settings applied to the running pipeline');
          return;
        }
        return this.rebuild(`settings changed: ${rebuild.join(', ')} (its filter asked for a rebuild)`);
      } catch (err) {
        this.deps.logger.warn({ stream: next.name, err }, 'live change failed; rebuilding the pipeline');
      }
    }
    await this.rebuild(`settings changed: ${[...changed.keys()].join(', ')}`);
  }

  /** Stops and starts the pipeline; hub consumers stay attached and resume at the next keyframe. */
  async rebuild(reason: string): Promise<void> {
    if (this.stopped) return;
    this.supervisor.reset();
    this.deps.logger.info({ stream: this.settings.name, reason }, 'rebuilding the pipeline');
    await this.stopPipeline(reason);
    this.deps.hub.resetParameters(this.settings.name);
    await this.launch();
  }

  /**
   * Restarts now if the pipeline is down and waiting out its backoff (its source is back); a running
   * pipeline is left alone.
   */
  retryNow(): void {
    if (!this.pipeline) this.supervisor.retryNow();
  }

  requestKeyframe(): void {
    const now = Date.now();
    if (now - this.lastKeyframeRequest < KEYFRAME_REQUEST_MIN_INTERVAL_MS) return;
    this.lastKeyframeRequest = now;
    const control = this.media?.keyframe;
    // A passthrough camera is asked through its control (force_key_frame); an encoder by GstForceKeyUnit.
    if (control) void this.pipeline?.setProperty(control.element, control.property, control.value).catch(() => undefined);
    else if (!this.media?.encoder.passthrough) this.pipeline?.requestKeyframe();
  }

  /** The running pipeline's id in its media process (changes with every restart), for tests and diagnostics. */
  get pipelineId(): string | undefined {
    return this.pipeline?.running ? this.pipeline.id : undefined;
  }

  /** The launch text of the running pipeline (diagnostics, tests). */
  get launchText(): string | undefined {
    return this.pipeline?.running ? this.launched : undefined;
  }

  /** Reads a property of an element of the running pipeline (diagnostics, tests). */
  elementProperty(element: string, property: string): Promise<PropertyValue | undefined> {
    if (!this.pipeline?.running) return Promise.reject(new Error(`stream ${this.settings.name} has no running pipeline`));
    return this.pipeline.getProperty(element, property);
  }

  /** The pid of the media process running this stream's pipeline. */
  get mediaPid(): number | undefined {
    return this.pipeline?.pid;
  }

  stats(): StreamStats {
    const now = performance.now();
    const supervision = this.supervisor.stats();
    const consumers = this.deps.hub.consumers(this.settings.name);
    return {
      clientCount: consumers.length,
      // A running total since start: clients that left still count (the hub keeps it per stream).
      totalBytesStreamed: this.deps.hub.totals(this.settings.name).bytesDelivered,
      currentBitrate: this.meter.bitrate(now),
      frameDrops: consumers.reduce((a, c) => a + c.framesDropped, 0),
      errors: supervision.errors,
      uptime: this.firstFrameAt !== undefined && this.pipeline?.running ? Math.round((now - this.firstFrameAt) / 1000) : 0,
      fps: this.meter.fps(now),
      keyframeInterval: this.meter.keyframeInterval() ?? null,
      running: !!this.pipeline?.running && this.lastFrameAt !== undefined && now - this.lastFrameAt < STALL_MS,
      state: this.state,
      restarts: supervision.restarts,
      lastError: supervision.lastError,
      width: this.settings.width,
      height: this.settings.height,
      targetBitrate: this.settings.bitrate,
      codec: (this.pipeline?.running ? this.runCodec : undefined) ?? this.settings.codec,
      ...(this.media
        ? { encoder: this.media.encoder, sourcePath: this.media.path.path, source: { path: this.media.path.path, why: this.media.path.why } }
        : {}),
      consumers,
    };
  }

  /**
   * The stream-health rules (`checkStreamHealth`) over recent figures (errors in the last 10 minutes, drops of current clients),
   * plus "frames are flowing": one old incident must not mark a stream unhealthy forever.
   */
  health(): { healthy: boolean; reasons: string[] } {
    const s = this.stats();
    const verdict = checkStreamHealth({
      frameDrops: s.frameDrops,
      errors: this.supervisor.recentErrors(),
      currentBitrate: s.currentBitrate,
      clientCount: s.clientCount,
    });
    if (!s.running) verdict.reasons.unshift(s.lastError ? `no frames (${s.state}): ${s.lastError}` : `no frames (${s.state})`);
    return { healthy: verdict.reasons.length === 0, reasons: verdict.reasons };
  }

  /**
   * Something besides the stream's filters reads its finished pictures (a derived encoding: VP8 for a
   * WebRTC viewer without H.264), or no longer does. A camera's own H.264 cannot feed it: the stream is
   * rebuilt to decode it while the reason holds, and to pass it through again after.
   */
  needRawPictures(reason: string | undefined): void {
    if (reason === this.rawNeeded) return;
    this.rawNeeded = reason;
    if (!this.pipeline?.running) return;
    if (reason && this.media?.path.path === 'passthrough') void this.rebuild(`${reason}: decoding the camera's own stream`);
    else if (!reason && this.heldPassthrough) void this.rebuild(`no longer needed (${this.heldPassthrough}): passing the camera's own stream through again`);
  }

  private async launch(): Promise<void> {
    const gen = ++this.generation;
    const s = this.settings;
    let built;
    let reads: ReadonlySet<string>;
    try {
      // Every setting read while building (core's or a plugin's) is a dependency of this pipeline.
      ({ result: built, keys: reads } = await trackReads(() => buildPipeline(s, this.deps.hooks, this.deps.registry, { rawNeeded: this.rawNeeded })));
    } catch (err) {
      this.supervisor.failed(`cannot build the pipeline: ${(err as Error).message}`);
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    this.reads = reads;
    this.live = liveAppliers(built, this.deps.bitrateKey);
    this.media = {
      encoder: encoderStats(built.spec.encoder, !!this.live.get(this.deps.bitrateKey)),
      path: built.spec.path!,
      keyframe: built.spec.encoder.keyframeControl,
    };
    this.deps.logger.debug({ stream: s.name, launch: built.launch }, 'starting pipeline');
    this.launched = built.launch;
    this.heldPassthrough = built.passthroughHeldBy;
    const pipeline = this.deps.media.start(built.launch, { startProperties: built.startProperties, output: true, role: this.deps.role });
    this.pipeline = pipeline;
    this.startedAt = performance.now();
    this.stallReported = false;
    this.firstFrameAt = undefined;
    this.playingAt = undefined;
    this.meter.reset();
    // Frames carry the codec of the pipeline that made them, not of the settings (already the next ones during a rebuild).
    const codec = built.spec.encoder.codec;
    this.runCodec = codec;
    const constrainedHigh = codec === 'h264' && built.spec.encoder.noBFrames === true;
    pipeline.on('frame', (f) => this.onFrame(f, pipeline, codec, constrainedHigh));
    pipeline.on('playing', () => {
      this.playingAt = performance.now();
      const { factory, reason } = built.spec.encoder;
      this.deps.logger.info(
        { stream: s.name, pipeline: pipeline.id, pid: pipeline.pid, encoder: factory, why: reason, sourcePath: built.spec.path?.path },
        'pipeline playing',
      );
      this.deps.onPlaying?.();
    });
    pipeline.on('warning', (w) => this.deps.logger.warn({ stream: s.name, source: w.source }, `GStreamer: ${w.message}`));
    pipeline.on('gstError', (e) => {
      this.supervisor.noteError(e.message);
      this.deps.logger.error({ stream: s.name, source: e.source, debug: e.debug }, `GStreamer error: ${e.message}`);
    });
    pipeline.on('exit', ({ code, signal }) => {
      if (this.pipeline !== pipeline) return; // replaced on purpose
      this.pipeline = undefined;
      if (this.stopped) return;
      this.supervisor.failed(
        signal
          ? `media process killed by ${signal}`
          : code === 0
            ? 'the pipeline ended (end of stream)'
            : (this.supervisor.stats().lastError ?? `media process exited with ${code}`),
      );
    });
  }

  private onFrame(f: RawFrame, pipeline: MediaPipeline, codec: VideoCodec, constrainedHigh: boolean): void {
    if (this.pipeline !== pipeline) return;
    const now = performance.now();
    this.lastFrameAt = now;
    this.stallsInARow = 0;
    if (this.firstFrameAt === undefined) this.firstFrameAt = now;
    this.supervisor.running(now - this.firstFrameAt);
    // A join point is an IDR (IRAP in H.265): parsers also clear DELTA_UNIT on non-IDR I frames, which a
    // decoder cannot start from (no parameter sets, references may precede them).
    const keyframe = f.keyframe && isJoinPoint(codec, f.data);
    // Parameter sets travel with keyframes only (h264parse config-interval=-1): one byte per keyframe.
    if (keyframe && constrainedHigh) declareConstrainedHigh(f.data);
    this.meter.add(now, f.data.length, keyframe);
    const frame: EncodedFrame = {
      stream: this.settings.name,
      seq: ++this.seq,
      data: f.data,
      keyframe,
      codec,
      captureTimeMs: f.captureTimeMs,
      rtpTimestamp: Math.round(f.captureTimeMs * 90) % 4294967296,
      receivedAt: now,
      width: f.width ?? this.settings.width,
      height: f.height ?? this.settings.height,
    };
    this.deps.hub.publish(frame);
  }

  private async stopPipeline(_reason: string): Promise<void> {
    const w = this.pipeline;
    this.pipeline = undefined;
    this.generation++;
    if (!w) return;
    await w.stop();
  }

  private handle(pipeline: MediaPipeline): PipelineHandle {
    return {
      stream: this.settings.name,
      get baseTimeNs() {
        return pipeline.baseTime;
      },
      setProperty: (element, property, value) => pipeline.setProperty(element, property, value),
      setPadProperty: (element, pad, property, value) => pipeline.setProperty(element, property, value, pad),
      requestKeyframe: () => this.requestKeyframe(),
    };
  }
}
