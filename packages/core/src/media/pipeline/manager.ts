import type { Logger } from 'pino';
import type { CamdHooks } from '../../hooks.js';
import type { StateStore } from '../../state/store.js';
import { defineStreamKeys, STREAM_KEY_NAMES, streamKeyName, type StreamKeyName } from '../../state/keys.js';
import { CamdError, ErrorCodes } from '../../errors.js';
import type { StreamHub } from '../hub.js';
import type { ElementRegistry } from '../registry.js';
import type { MediaPlane } from '../plane.js';
import type { DerivedCodec, EncoderPreset, EncoderProfile, StreamSettings, VideoCodec } from '../types.js';
import type { DerivedEncodingLease } from '../../plugins/contract.js';
import { DERIVED_CODECS, DerivedEncoding, derivedStreamName } from './derived.js';
import { StreamRunner } from './runner.js';
import { planSharedCaptures, SharedCapture } from './capture.js';
import { defaultSource } from './launch.js';
import { MediaProcess } from './media-process.js';
import { getLatencyMs, type LatencyMode } from '../../rules.js';
import { streamLatencyMode } from '../../state/keys.js';
import type { MediaIsolation } from '../../config.js';
import { DEFAULT_MAX_PIXEL_RATE, StreamBounds, type StreamLimits } from '../bounds.js';

export interface StreamManagerDeps {
  hooks: CamdHooks;
  state: StateStore;
  hub: StreamHub;
  registry: ElementRegistry;
  logger: Logger;
  /** Streams from the config, in order (the first is the primary stream). */
  streams: StreamSettings[];
  /** One media process for every pipeline (default), or one per stream and shared capture. */
  isolation?: MediaIsolation;
  /** `media.maxPixelRate`: pixels a second all streams may encode together (default DEFAULT_MAX_PIXEL_RATE). */
  maxPixelRate?: number;
}

/** How long a derived encoding outlives its last user by default (a viewer reloading its page keeps it). */
const DERIVED_LINGER_MS = 30_000;

/** Coalesces a burst of setting changes (resolution + frame rate) into one rebuild. */
const SETTLE_MS = 150;

/**
 * The media plane: one supervised pipeline per configured stream, driven by the state store.
 * Settings changed through any interface reach the running pipeline without a daemon restart.
 */
export class StreamManager implements MediaPlane {
  private readonly runners = new Map<string, StreamRunner>();
  private configured: StreamSettings[];
  /** Changed keys per stream, waiting out `SETTLE_MS` to be applied together. */
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; changed: Map<string, unknown> }>();
  private readonly unwatch: Array<() => void> = [];
  /** Captures shared by streams with the same source, by capture id. */
  private readonly captures = new Map<string, SharedCapture>();
  /** Streams whose source a plugin reads too (`shareSource`). */
  private readonly alsoRead = new Set<string>();
  private started = false;
  /** Media processes by what they run: `shared`, or a stream or capture id with isolation `pipeline`. */
  private readonly processes = new Map<string, MediaProcess>();
  /** Derived encodings (VP8 for WebRTC clients without H.264), by hub stream name; made on first request. */
  private readonly derived = new Map<string, DerivedEncoding>();

  /** What each stream's size and rate may be (source, encoder level, pixel budget), enforced on every write. */
  private readonly bounds: StreamBounds;

  constructor(private readonly deps: StreamManagerDeps) {
    this.configured = deps.streams;
    defineStreamKeys(deps.state, deps.streams);
    this.bounds = new StreamBounds({
      state: deps.state,
      streams: deps.streams,
      stateKey: (s, k) => this.stateKey(s, k),
      encoderLimits: (codec) => deps.registry.encoderLimits(codec),
      maxPixelRate: deps.maxPixelRate ?? DEFAULT_MAX_PIXEL_RATE,
    });
    this.unwatch.push(this.bounds.install());
    const latencyBudgetMs = () => getLatencyMs(deps.state.get<string>(streamLatencyMode.key));
    for (const [i, s] of this.configured.entries()) {
      this.runners.set(
        s.name,
        new StreamRunner(this.fromState(s), {
          hooks: deps.hooks,
          hub: deps.hub,
          registry: deps.registry,
          logger: deps.logger,
          media: this.mediaFor(s.name),
          // streamLatencyMode (every stream's) shapes queues and encoder: a change rebuilds (latency branch).
          ownKeys: [...STREAM_KEY_NAMES.map((k) => this.stateKey(s.name, k)), streamLatencyMode.key],
          bitrateKey: this.stateKey(s.name, 'streamBitrate'),
          latencyBudgetMs,
          onRepeatedStall: (name) => this.restartCaptureOf(name),
          // Its finished pictures are readable by derived encodings under this role (a name the media
          // process's reader syntax accepts; stream names may hold "_").
          role: `pictures${i + 1}`,
          onPlaying: () => {
            for (const d of this.derived.values()) if (d.stream === s.name) d.streamPlaying();
          },
        }),
      );
    }
    // The one path from a setting to a running pipeline: every change goes to the streams whose
    // pipeline depends on it (their own settings, or keys read while building them).
    this.unwatch.push(
      deps.state.subscribe((change) => {
        for (const [name, runner] of this.runners) if (runner.dependsOn(change.key)) this.schedule(name, change.key, change.value);
        // A derived encoding follows its stream's bitrate live (the stream's own encoder does too).
        for (const d of this.derived.values()) if (change.key === this.stateKey(d.stream, 'streamBitrate')) d.setBitrate(change.value as number);
      }),
    );
  }

  /** The media process that runs a stream's or capture's pipeline. */
  private mediaFor(owner: string): MediaProcess {
    const key = this.deps.isolation === 'pipeline' ? owner : 'shared';
    let p = this.processes.get(key);
    if (!p) {
      const log = this.deps.logger.child({ mediaProcess: key });
      p = new MediaProcess({
        onSpawn: (pid) => log.info({ pid }, 'media process started'),
        onExit: ({ code, signal, detail }) => {
          if (!this.started) return;
          log.error({ code, signal, detail }, 'media process exited; its pipelines restart with backoff');
        },
      });
      this.processes.set(key, p);
    }
    return p;
  }

  shareSource(name: string): void {
    this.runner(name);
    if (this.started) throw new CamdError(ErrorCodes.PLUGIN_SETUP, `shareSource("${name}") must be called during plugin setup, before the streams start`);
    this.alsoRead.add(name);
  }

  /** Streams that share a source get one capture; planned at start, after plugins declared theirs. */
  private planCaptures(): void {
    // Captures and readers share a process unless every pipeline has its own: then shared memory.
    this.configured = planSharedCaptures(this.configured, this.alsoRead, this.deps.isolation === 'pipeline' ? 'shm' : 'memory');
    for (const s of this.configured) {
      const ref = s.capture;
      this.bounds.setCapture(s.name, ref);
      if (!ref) continue;
      if (this.captures.has(ref.id)) continue;
      // Readers that lost the capture wait out their backoff: they retry as soon as it plays again.
      // One that has already reconnected is left alone (shmsink fails when a reader vanishes mid-handshake).
      const onRestarted = () => ref.streams.forEach((n) => this.runner(n).retryNow());
      this.captures.set(
        ref.id,
        new SharedCapture(ref, () => defaultSource({ ...s, capture: undefined }), {
          registry: this.deps.registry,
          logger: this.deps.logger,
          media: this.mediaFor(ref.id),
          onRestarted,
        }),
      );
    }
  }

  acquireDerivedEncoding(stream: string, codec: DerivedCodec, opts: { lingerMs?: number } = {}): DerivedEncodingLease {
    const i = this.configured.findIndex((s) => s.name === stream);
    if (i < 0) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${stream}"`);
    if (!this.derivedCodecs().includes(codec)) {
      const tried = this.deps.registry.candidatesFor(codec).map((f) => `${f} (Debian package ${this.deps.registry.packageFor(f) ?? 'unknown'})`);
      throw new CamdError(
        ErrorCodes.GST_NO_ENCODER,
        `no ${codec} encoder on this machine for a derived encoding; tried ${tried.join(', ') || 'none registered'}`,
      );
    }
    const name = derivedStreamName(stream, codec);
    let d = this.derived.get(name);
    if (!d) {
      d = new DerivedEncoding(stream, codec, {
        hub: this.deps.hub,
        logger: this.deps.logger,
        media: this.mediaFor(stream),
        settings: () => this.runner(stream).current,
        chooseEncoder: (c, settings) => this.deps.registry.chooseDerivedEncoder(c, settings),
        role: `pictures${i + 1}`,
      });
      this.derived.set(name, d);
    }
    const release = d.acquire(opts.lingerMs ?? DERIVED_LINGER_MS);
    return { codec, hubStream: name, release };
  }

  derivedCodecs(): DerivedCodec[] {
    return DERIVED_CODECS.filter((c) => this.deps.registry.candidatesFor(c).some((f) => this.deps.registry.has(f)));
  }

  runningDerivedCodecs(stream: string): DerivedCodec[] {
    return [...this.derived.values()].filter((d) => d.stream === stream && d.running).map((d) => d.codec);
  }

  list(): StreamSettings[] {
    return [...this.runners.values()].map((r) => r.current);
  }

  get(name: string): StreamSettings | undefined {
    return this.runners.get(name)?.current;
  }

  stateKey(stream: string, key: StreamKeyName): string {
    const i = this.configured.findIndex((s) => s.name === stream);
    if (i < 0) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${stream}"`);
    return streamKeyName(key, stream, i === 0);
  }

  async restart(name: string): Promise<void> {
    const r = this.runner(name);
    await r.rebuild('restart requested');
  }

  stats(name: string): Record<string, unknown> | undefined {
    const r = this.runners.get(name);
    if (!r) return undefined;
    const capture = r.current.capture && this.captures.get(r.current.capture.id);
    const derived = [...this.derived.values()].filter((d) => d.stream === name).map((d) => d.stats());
    const mediaPid = this.processes.get(this.deps.isolation === 'pipeline' ? name : 'shared')?.pid ?? null;
    return { ...r.stats(), mediaPid, ...(capture ? { capture: capture.stats() } : {}), ...(derived.length ? { derived } : {}) };
  }

  /**
   * A stream on a shared capture stalled twice in a row: its own pipeline was rebuilt and still got
   * nothing, so the capture (or its shared memory) is the suspect and is restarted; its readers rejoin.
   */
  private restartCaptureOf(stream: string): void {
    const id = this.runners.get(stream)?.current.capture?.id;
    if (!id) return;
    this.deps.logger.warn({ stream, capture: id }, 'stream stalled again after a restart; restarting its shared capture');
    this.captures.get(id)?.fail(`a reader (${stream}) stalled twice in a row`);
  }

  /** Fails a shared capture's pipeline as a camera fault would (tests, fault drills). */
  failCapture(id: string): boolean {
    return this.captures.get(id)?.fail() ?? false;
  }

  health(name: string): { healthy: boolean; reasons: string[] } {
    return this.runner(name).health();
  }

  /** Fails a stream's pipeline as a GStreamer error would; it restarts with backoff (tests, fault drills). */
  failPipeline(name: string, message?: string): boolean {
    return this.runner(name).failPipeline(message);
  }

  /** The running pipeline's id (it changes with every restart: tests, diagnostics). */
  pipelineId(name: string): string | undefined {
    return this.runner(name).pipelineId;
  }

  /** Pids of the running media processes (diagnostics, benchmarks, crash drills). */
  mediaPids(): number[] {
    return [...this.processes.values()].map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
  }

  limits(stream: string, codec?: VideoCodec): StreamLimits {
    this.runner(stream);
    return this.bounds.limits(stream, codec);
  }

  async start(): Promise<void> {
    this.started = true;
    this.planCaptures();
    // Before any pipeline runs: what each source delivers, the config checked against it, and stored
    // values beyond it reset (else a pipeline that cannot negotiate restarts for ever).
    await this.bounds.describeSources(this.deps.hooks, this.deps.logger);
    await this.bounds.enforceAtStart(this.deps.logger);
    // The runners start with the settings as they are now; a reset above needs no rebuild of its own.
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const s of this.configured) this.runner(s.name).configure(this.fromState(s));
    // Shared captures first, so that their readers find them; one failing (a missing device) must not
    // keep the others or any stream from starting.
    await Promise.all([...this.captures.values()].map((c) => c.start()));
    await Promise.all([...this.runners.values()].map((r) => r.start()));
  }

  async stop(): Promise<void> {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    for (const off of this.unwatch.splice(0)) off();
    await Promise.all([...this.derived.values()].map((d) => d.stop('shutdown')));
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    await Promise.all([...this.captures.values()].map((c) => c.stop()));
    this.started = false;
    await Promise.all([...this.processes.values()].map((p) => p.close()));
  }

  /** Coalesces a burst of changes (resolution + frame rate) into one live change or one rebuild. */
  private schedule(name: string, key: string, value: unknown): void {
    const entry = this.pending.get(name) ?? { timer: undefined as unknown as NodeJS.Timeout, changed: new Map<string, unknown>() };
    clearTimeout(entry.timer);
    entry.changed.set(key, value);
    entry.timer = setTimeout(() => {
      this.pending.delete(name);
      const base = this.configured.find((s) => s.name === name)!;
      void this.runner(name)
        .apply(entry.changed, this.fromState(base))
        .catch((err) => this.deps.logger.error({ err, stream: name }, 'applying settings failed'));
    }, SETTLE_MS);
    this.pending.set(name, entry);
  }

  /** The stream's settings as the state store holds them now. */
  private fromState(base: StreamSettings): StreamSettings {
    const get = <T>(key: StreamKeyName) => this.deps.state.get<T>(this.stateKey(base.name, key));
    const [w, h] = get<string>('streamResolution').split('x').map(Number) as [number, number];
    const fps = get<number>('streamFramerate');
    return {
      ...base,
      width: w,
      height: h,
      fps,
      bitrate: get<number>('streamBitrate'),
      codec: get<VideoCodec>('videoEncoder'),
      profile: get<EncoderProfile>('encoderProfile'),
      preset: get<EncoderPreset>('encoderPreset'),
      latencyMode: this.deps.state.get<LatencyMode>(streamLatencyMode.key),
      // A GOP configured in frames keeps its duration when the frame rate changes.
      gop: Math.max(1, Math.round((base.gop / base.fps) * fps)),
    };
  }

  private runner(name: string): StreamRunner {
    const r = this.runners.get(name);
    if (!r) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${name}"`);
    return r;
  }
}
