import type { Logger } from 'pino';
import type { CamdHooks } from '../../hooks.js';
import type { StreamHub } from '../hub.js';
import type { ElementRegistry } from '../registry.js';
import type { EncodedFrame, EncoderChoice, StreamSettings } from '../types.js';
import type { PipelineHandle } from '../pipeline-handle.js';
import { checkStreamHealth } from '../../rules.js';
import { buildPipeline } from './launch.js';
import type { MediaPipeline, MediaProcess, RawFrame } from './media-process.js';
import { ProductionMeter, type StreamStats } from './stream-stats.js';
import { NAL, nalType, splitAnnexB } from '../h264.js';
import { backoffDelay, STABLE_MS } from './restart-policy.js';

export { BACKOFF_MS } from './restart-policy.js';

/** Health: no frame for this long means the stream is stalled. */
const STALL_MS = 2000;
/**
 * A pipeline that plays but has delivered no frame for this long (or for its latency budget, if
 * longer) is restarted. The first frame of a fresh pipeline gets more time: encoders warm up.
 */
export const STALL_RESTART_MS = 2000;
const FIRST_FRAME_MS = 8000;
const WATCHDOG_INTERVAL_MS = 250;
const KEYFRAME_REQUEST_MIN_INTERVAL_MS = 250;
const RECENT_WINDOW_MS = 10 * 60_000;

export interface RunnerDeps {
  hooks: CamdHooks;
  hub: StreamHub;
  registry: ElementRegistry;
  logger: Logger;
  /** The media process that runs this stream's pipeline. */
  media: MediaProcess;
  /** The stream's latency budget in ms (`streamLatencyMode`); a stall restart waits at least this long. */
  latencyBudgetMs?: () => number;
}

/** Where a stream's pipeline is: with `running: false` in stats, `state` and `lastError` say why. */
export type PipelineState = 'stopped' | 'starting' | 'playing' | 'stalled' | 'restarting';

/**
 * Keeps one stream's pipeline running: builds it through the hooks, runs it in a worker, publishes
 * its frames to the hub, applies live changes, restarts it with backoff, and measures it.
 */
export class StreamRunner {
  private worker?: MediaPipeline;
  private playingAt?: number;
  private watchdog?: NodeJS.Timeout;
  private encoder?: EncoderChoice;
  private seq = 0;
  private attempt = 0;
  private restartTimer?: NodeJS.Timeout;
  private stopped = true;
  private startedAt?: number;
  private firstFrameAt?: number;
  private lastFrameAt?: number;
  private errors = 0;
  private readonly recentErrors: number[] = [];
  private restarts = 0;
  private lastError: string | null = null;
  private readonly meter = new ProductionMeter();
  private lastKeyframeRequest = 0;
  private generation = 0;

  constructor(
    private settings: StreamSettings,
    private readonly deps: RunnerDeps,
  ) {
    deps.hub.setKeyframeRequester(settings.name, () => this.requestKeyframe());
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
    this.watchdog = setInterval(() => this.checkStall(), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
    await this.launch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    await this.stopWorker('shutdown');
  }

  /**
   * The supervisor's stall check: a pipeline that plays but delivers nothing (a blocked element, a
   * capture that stopped feeding it) fails like a crashed one, so the usual backoff restarts it.
   */
  private checkStall(): void {
    const w = this.worker;
    if (!w || this.playingAt === undefined) return;
    const now = performance.now();
    const since = this.lastFrameAt !== undefined && this.lastFrameAt > this.playingAt ? this.lastFrameAt : undefined;
    const limit = since === undefined ? FIRST_FRAME_MS : Math.max(STALL_RESTART_MS, this.deps.latencyBudgetMs?.() ?? 0);
    const silentMs = now - (since ?? this.playingAt);
    if (silentMs <= limit) return;
    this.playingAt = undefined; // once per run
    this.lastError = `stalled: no frame for ${(silentMs / 1000).toFixed(1)} s while playing`;
    this.deps.logger.warn({ stream: this.settings.name }, `pipeline ${this.lastError}; restarting it`);
    w.fail(this.lastError);
  }

  /** Fails the running pipeline as a GStreamer error would (tests, fault drills); false when none runs. */
  failPipeline(message = 'fault injected'): boolean {
    if (!this.worker?.running) return false;
    this.worker.fail(message);
    return true;
  }

  /** Where the pipeline is now (stats). */
  get state(): PipelineState {
    if (this.stopped) return 'stopped';
    if (!this.worker) return 'restarting';
    if (this.playingAt === undefined && this.firstFrameAt === undefined) return 'starting';
    const now = performance.now();
    return this.lastFrameAt !== undefined && now - this.lastFrameAt < STALL_MS ? 'playing' : this.lastFrameAt === undefined ? 'starting' : 'stalled';
  }

  /** Applies new settings: bitrate alone goes to the running encoder; anything else rebuilds. */
  async update(next: StreamSettings): Promise<void> {
    const prev = this.settings;
    this.settings = next;
    const onlyBitrate = (Object.keys(next) as (keyof StreamSettings)[]).every((k) => k === 'bitrate' || JSON.stringify(next[k]) === JSON.stringify(prev[k]));
    const prop = this.encoder?.bitrateProperty;
    if (onlyBitrate && prop && this.worker?.running) {
      if (next.bitrate === prev.bitrate) return;
      try {
        await this.worker.setProperty('encoder', prop.name, Math.max(1, Math.round(next.bitrate / prop.unitBitsPerSecond)));
        this.deps.logger.info({ stream: next.name, bitrate: next.bitrate }, 'bitrate applied to the running encoder');
        return;
      } catch (err) {
        this.deps.logger.warn({ stream: next.name, err }, 'live bitrate change failed; rebuilding the pipeline');
      }
    }
    await this.rebuild('settings changed');
  }

  /** Stops and starts the pipeline; hub consumers stay attached and resume at the next keyframe. */
  async rebuild(reason: string): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.restartTimer);
    this.deps.logger.info({ stream: this.settings.name, reason }, 'rebuilding the pipeline');
    await this.stopWorker(reason);
    this.deps.hub.resetParameters(this.settings.name);
    this.attempt = 0;
    await this.launch();
  }

  /**
   * Restarts now if the pipeline is down and waiting out its backoff (its source is back); a running
   * pipeline is left alone.
   */
  retryNow(): void {
    if (this.stopped || this.worker || !this.restartTimer) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restarts++;
    void this.launch();
  }

  requestKeyframe(): void {
    const now = Date.now();
    if (now - this.lastKeyframeRequest < KEYFRAME_REQUEST_MIN_INTERVAL_MS) return;
    this.lastKeyframeRequest = now;
    this.worker?.requestKeyframe();
  }

  /** The running pipeline's id in its media process (changes with every restart), for tests and diagnostics. */
  get pipelineId(): string | undefined {
    return this.worker?.running ? this.worker.id : undefined;
  }

  /** The pid of the media process running this stream's pipeline. */
  get mediaPid(): number | undefined {
    return this.worker?.pid;
  }

  stats(): StreamStats {
    const now = performance.now();
    const consumers = this.deps.hub.consumers(this.settings.name);
    return {
      clientCount: consumers.length,
      totalBytesStreamed: consumers.reduce((a, c) => a + c.bytesDelivered, 0),
      currentBitrate: this.meter.bitrate(now),
      frameDrops: consumers.reduce((a, c) => a + c.framesDropped, 0),
      errors: this.errors,
      uptime: this.firstFrameAt !== undefined && this.worker?.running ? Math.round((now - this.firstFrameAt) / 1000) : 0,
      fps: this.meter.fps(now),
      keyframeInterval: this.meter.keyframeInterval() ?? null,
      running: !!this.worker?.running && this.lastFrameAt !== undefined && now - this.lastFrameAt < STALL_MS,
      state: this.state,
      restarts: this.restarts,
      lastError: this.lastError,
      width: this.settings.width,
      height: this.settings.height,
      targetBitrate: this.settings.bitrate,
      consumers,
    };
  }

  /**
   * The seed's rules over recent figures (errors in the last 10 minutes, drops of current clients),
   * plus "frames are flowing": one old incident must not mark a stream unhealthy forever.
   */
  health(): { healthy: boolean; reasons: string[] } {
    const s = this.stats();
    const cutoff = Date.now() - RECENT_WINDOW_MS;
    while (this.recentErrors.length && this.recentErrors[0]! < cutoff) this.recentErrors.shift();
    const verdict = checkStreamHealth({ frameDrops: s.frameDrops, errors: this.recentErrors.length, currentBitrate: s.currentBitrate, clientCount: s.clientCount });
    if (!s.running) verdict.reasons.unshift(this.lastError ? `no frames (${s.state}): ${this.lastError}` : `no frames (${s.state})`);
    return { healthy: verdict.reasons.length === 0, reasons: verdict.reasons };
  }

  private async launch(): Promise<void> {
    const gen = ++this.generation;
    const s = this.settings;
    let built;
    try {
      built = await buildPipeline(s, this.deps.hooks, this.deps.registry);
    } catch (err) {
      this.fail(`cannot build the pipeline: ${(err as Error).message}`);
      return;
    }
    if (gen !== this.generation || this.stopped) return;
    this.encoder = built.spec.encoder;
    this.deps.logger.debug({ stream: s.name, launch: built.launch }, 'starting pipeline');
    const worker = this.deps.media.start(built.launch, { startProperties: built.startProperties, output: true });
    this.worker = worker;
    this.startedAt = performance.now();
    this.firstFrameAt = undefined;
    this.playingAt = undefined;
    this.meter.reset();
    worker.on('frame', (f) => this.onFrame(f, worker));
    worker.on('playing', () => {
      this.playingAt = performance.now();
      this.deps.logger.info({ stream: s.name, pipeline: worker.id, pid: worker.pid, encoder: built.spec.encoder.factory }, 'pipeline playing');
      this.deps.hooks.pipelineStarted.call(this.handle(worker));
    });
    worker.on('warning', (w) => this.deps.logger.warn({ stream: s.name, source: w.source }, `GStreamer: ${w.message}`));
    worker.on('gstError', (e) => {
      this.lastError = e.message;
      this.deps.logger.error({ stream: s.name, source: e.source, debug: e.debug }, `GStreamer error: ${e.message}`);
    });
    worker.on('exit', ({ code, signal }) => {
      if (this.worker !== worker) return; // replaced on purpose
      this.worker = undefined;
      this.deps.hooks.pipelineStopped.call({ stream: s.name, reason: signal ? `killed by ${signal}` : `exit ${code}` });
      if (this.stopped) return;
      this.fail(signal ? `media process killed by ${signal}` : code === 0 ? 'the pipeline ended (end of stream)' : (this.lastError ?? `media process exited with ${code}`));
    });
  }

  private onFrame(f: RawFrame, worker: MediaPipeline): void {
    if (this.worker !== worker) return;
    const now = performance.now();
    this.lastFrameAt = now;
    if (this.firstFrameAt === undefined) this.firstFrameAt = now;
    if (this.attempt > 0 && now - this.firstFrameAt > STABLE_MS) this.attempt = 0;
    // A join point is an IDR: h264parse also clears DELTA_UNIT on non-IDR I frames, which a decoder
    // cannot start from (no parameter sets, references may precede them).
    const keyframe = f.keyframe && (this.settings.codec !== 'h264' || splitAnnexB(f.data).some((n) => nalType(n) === NAL.IDR));
    this.meter.add(now, f.data.length, keyframe);
    const frame: EncodedFrame = {
      stream: this.settings.name,
      seq: ++this.seq,
      data: f.data,
      keyframe,
      codec: this.settings.codec,
      captureTimeMs: f.captureTimeMs,
      rtpTimestamp: Math.round(f.captureTimeMs * 90) % 4294967296,
      receivedAt: now,
      width: f.width ?? this.settings.width,
      height: f.height ?? this.settings.height,
    };
    this.deps.hub.publish(frame);
  }

  private fail(message: string): void {
    this.errors++;
    this.recentErrors.push(Date.now());
    this.lastError = message;
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt++;
    this.deps.logger.error({ stream: this.settings.name, retryInMs: delay, errors: this.errors }, `pipeline failed: ${message}`);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.restarts++;
      void this.launch();
    }, delay);
    this.restartTimer.unref();
  }

  private async stopWorker(reason: string): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.generation++;
    if (!w) return;
    await w.stop();
    this.deps.hooks.pipelineStopped.call({ stream: this.settings.name, reason });
  }

  private handle(worker: MediaPipeline): PipelineHandle {
    return {
      stream: this.settings.name,
      get baseTimeNs() {
        return worker.baseTime;
      },
      setProperty: (element, property, value) => worker.setProperty(element, property, value),
      setPadProperty: (element, pad, property, value) => worker.setProperty(element, property, value, pad),
      requestKeyframe: () => this.requestKeyframe(),
    };
  }
}
