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
import type { PropertyValue } from './protocol.js';
import { DEFAULT_MAX_PIXEL_RATE, StreamBounds, type StreamLimits } from '../bounds.js';
import { DeviceDirectory } from './device-directory.js';
import { probeAtStart, probeMedia } from './probe-client.js';
import { HotplugWatch } from './hotplug.js';
import { devicesReport, probeReport, type DevicesReport, type ProbeReport } from './probe-report.js';

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
  /** The derived encodings of each stream that read its raw pictures now. */
  private readonly rawReaders = new Map<string, Set<DerivedCodec>>();

  /** What each stream's size and rate may be (source, encoder level, pixel budget), enforced on every write. */
  private readonly bounds: StreamBounds;
  /** The cameras the device probe (GstDeviceMonitor) saw; core's source and describeSource taps read it. */
  readonly devices: DeviceDirectory;
  /** Watches the streams' camera nodes once started (unplug, replug). */
  private hotplug?: HotplugWatch;
  private stopping = false;

  constructor(private readonly deps: StreamManagerDeps) {
    this.configured = deps.streams;
    this.devices = new DeviceDirectory(async () => (await probeMedia({ devices: true, trials: [] })).devices ?? [], deps.logger);
    defineStreamKeys(deps.state, deps.streams);
    this.bounds = new StreamBounds({
      state: deps.state,
      streams: deps.streams,
      stateKey: (s, k) => this.stateKey(s, k),
      encoderLimits: (codec, stream) => deps.registry.encoderLimits(codec, stream?.encoder),
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
        new SharedCapture(ref, () => defaultSource({ ...s, capture: undefined }, this.devices), {
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
        onActive: (on) => this.derivedReads(stream, codec, on),
      });
      this.derived.set(name, d);
    }
    const release = d.acquire(opts.lingerMs ?? DERIVED_LINGER_MS);
    return { codec, hubStream: name, release };
  }

  /**
   * A derived encoding of a stream started or stopped: while any of them (VP8, VP9, AV1) runs, the
   * stream makes raw pictures (a camera's own H.264 is decoded); after the last stops it is passed
   * through again. Not while shutting down: the derived encodings stop first, the stream must not rebuild then.
   */
  private derivedReads(stream: string, codec: DerivedCodec, on: boolean): void {
    const codecs = this.rawReaders.get(stream) ?? new Set<DerivedCodec>();
    if (on) codecs.add(codec);
    else codecs.delete(codec);
    this.rawReaders.set(stream, codecs);
    if (this.stopping) return;
    this.runner(stream).needRawPictures(codecs.size ? `a ${[...codecs].join('/')} encoding reads its pictures` : undefined);
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
    const own = { ...r.stats(), mediaPid, ...(derived.length ? { derived } : {}) };
    if (!capture) return own;
    // A stream on a shared capture reads what the capture made of the source.
    const c = capture.stats();
    return { ...own, ...(c.sourcePath ? { sourcePath: c.sourcePath, source: { path: c.sourcePath, why: c.sourceWhy } } : {}), capture: c };
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
    const h = this.runner(name).health();
    const src = this.runner(name).current.source;
    const since = src.kind === 'device' ? this.hotplug?.absentSince(src.device) : undefined;
    if (since === undefined || src.kind !== 'device') return h;
    const when = new Date(since).toISOString();
    return { healthy: false, reasons: [`camera ${src.device} is unplugged (since ${when}); the stream restarts when it is back`, ...h.reasons] };
  }

  /** Fails a stream's pipeline as a GStreamer error would; it restarts with backoff (tests, fault drills). */
  failPipeline(name: string, message?: string): boolean {
    return this.runner(name).failPipeline(message);
  }

  /** The running pipeline's id (it changes with every restart: tests, diagnostics). */
  pipelineId(name: string): string | undefined {
    return this.runner(name).pipelineId;
  }

  /** The launch text of a stream's running pipeline (diagnostics, tests). */
  launchText(name: string): string | undefined {
    return this.runner(name).launchText;
  }

  /** Reads a property of an element in a stream's running pipeline (diagnostics, tests). */
  elementProperty(name: string, element: string, property: string): Promise<PropertyValue | undefined> {
    return this.runner(name).elementProperty(element, property);
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
    this.stopping = false;
    this.planCaptures();
    await probeAtStart({ streams: this.configured, registry: this.deps.registry, devices: this.devices, logger: this.deps.logger });
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
    const paths = this.configured.flatMap((s) => (s.source.kind === 'device' ? [s.source.device] : []));
    if (paths.length) {
      this.hotplug = new HotplugWatch({ devices: this.devices, paths, logger: this.deps.logger, onChange: (p, present) => this.deviceChanged(p, present) });
      this.hotplug.start();
    }
  }

  /**
   * A stream's camera went away or came back. Gone: its streams fail now (a driver can hang instead
   * of failing) and report it in health until it is back. Back: what it delivers is read again, the
   * streams' bounds follow (stored values it cannot do fall back to the config's), and its streams
   * and capture restart at once instead of waiting out their backoff.
   */
  private async deviceChanged(path: string, present: boolean): Promise<void> {
    const streams = this.configured.filter((s) => s.source.kind === 'device' && s.source.device === path);
    const captures = new Set(streams.flatMap((s) => (s.capture ? [this.captures.get(s.capture.id)!] : [])));
    if (!present) {
      this.deps.logger.warn({ device: path, streams: streams.map((s) => s.name) }, `camera ${path} unplugged: its streams stop until it is back`);
      for (const c of captures) c.fail(`camera ${path} unplugged`);
      for (const s of streams) this.runner(s.name).failPipeline(`camera ${path} unplugged`);
      return;
    }
    for (const s of streams) {
      try {
        this.bounds.setSource(s.name, await this.deps.hooks.describeSource.promise(this.runner(s.name).current));
      } catch (err) {
        this.bounds.setSource(s.name, undefined);
        this.deps.logger.warn({ err, stream: s.name }, `what ${path} delivers is not known`);
      }
    }
    for (const r of await this.bounds.reconcile()) {
      this.deps.logger.warn(
        { stream: r.stream, changes: r.changes },
        `${r.stream}: the camera back on ${path} cannot do the stored settings (${r.reason}); using the config's`,
      );
    }
    this.deps.logger.info({ device: path, streams: streams.map((s) => s.name) }, `camera ${path} is back: restarting its streams`);
    for (const c of captures) c.retryNow();
    for (const s of streams) {
      const r = this.runner(s.name);
      if (r.pipelineId) await r.rebuild(`camera ${path} plugged in again`);
      else r.retryNow();
    }
  }

  /** `GET /api/devices`: the cameras the device probe sees now, which stream reads each, and configured ones it does not see. */
  async listDevices(): Promise<DevicesReport> {
    return devicesReport(await this.devices.fresh(), this.configured, (p) => this.hotplug?.absentSince(p));
  }

  /**
   * `camd probe`: cameras, every encoder and hardware decoder present with a trial, and what each
   * configured stream would get (source path, encoder, why), without starting a pipeline.
   */
  async probe(): Promise<ProbeReport> {
    this.planCaptures();
    const result = await probeMedia({ devices: true, trials: this.deps.registry.trialRequests({ everything: true }) });
    this.deps.registry.recordTrials(result.trials);
    await this.devices.accept(result.devices ?? []);
    await this.bounds.describeSources(this.deps.hooks, this.deps.logger);
    for (const s of this.configured) this.runner(s.name).configure(this.fromState(s));
    return probeReport({
      devices: this.devices.list(),
      registry: this.deps.registry,
      streams: this.configured.map((s) => this.runner(s.name).current),
      hooks: this.deps.hooks,
      limits: (name) => this.bounds.limits(name),
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.hotplug?.stop();
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
