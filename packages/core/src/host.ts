import 'reflect-metadata';
import { createRequire } from 'node:module';
import { container as tsyringeRoot, type DependencyContainer } from 'tsyringe';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { CamdError, ErrorCodes } from './errors.js';
import { createHooks, STAGE, type CamdHooks, type HealthCheck, type TransportInfo } from './hooks.js';
import { instrumentHooks } from './hooks-instrument.js';
import { gatherHealth } from './collectors.js';
import { StateStore } from './state/store.js';
import { streamAlignment, streamLatencyMode } from './state/keys.js';
import { UserStore } from './auth/users.js';
import { StreamHub } from './media/hub.js';
import type { ElementRegistry } from './media/registry.js';
import { StaticMediaPlane, type MediaPlane } from './media/plane.js';
import { AlignmentMonitor } from './media/alignment.js';
import { DEFAULT_MAX_PIXEL_RATE } from './media/bounds.js';
import type { ProbeReport } from './media/pipeline/probe-report.js';
import { type CamdConfig, configuredStreams, httpLimits, type MediaIsolation, pluginEntries, type PluginEntry } from './config.js';
import { createLogger } from './logger.js';
import { createHttpServer, PluginHttpScope } from './http/server.js';
import { HttpConnections } from './http/connections.js';
import { registerCoreApi, type PluginListing } from './http/api.js';
import { registerMetrics } from './http/metrics.js';
import { checkDefinition, orderByRequirements, resolvePlugin, validateOptions } from './plugins/loader.js';
import { checkStateKeys, pluginHooks, pluginState, settingsOf } from './plugins/context.js';
import { PLUGIN_API_VERSION, TOKENS, type PluginContext, type PluginDefinition } from './plugins/contract.js';
import { ensureDir } from './state/persist.js';
import { getLatencyMs } from './rules.js';
import { DaemonTls } from './tls/daemon-tls.js';
import { emptyRegistry, publicConfig } from './host-helpers.js';
import type { LoadedCertificate } from './tls/certificate.js';

const CORE_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface HostOptions {
  config: CamdConfig;
  stateDir: string;
  logger?: Logger;
  /** Folders from which plugin packages named in the config are resolved (default: cwd). */
  pluginSearchPaths?: string[];
  /** Plugin definitions given directly (tests, embedders), loaded after the config's. */
  plugins?: Array<PluginDefinition<any> | { def: PluginDefinition<any>; options?: Record<string, unknown>; required?: boolean }>;
  /** Where the first-start administrator password is shown (default: stdout, once). */
  announceAdmin?: (username: string, password: string) => void;
  /** Where a TLS certificate camd issued itself is shown (default: stdout, with its fingerprint). */
  announceCertificate?: (certificate: LoadedCertificate, why: string) => void;
  /** Run real pipelines (default true). False gives the streams without encoding anything. */
  media?: boolean;
}

interface LoadedPlugin {
  def: PluginDefinition<any>;
  entry: PluginEntry;
  version?: string;
  status: 'ready' | 'failed';
  error?: string;
  scope?: PluginHttpScope;
}

/**
 * One running camd: state, users, hooks, the stream hub and pipelines, the HTTP server, and the
 * plugins named by the config. The daemon is this plus a CLI; the test kit is this plus temp dirs.
 */
export class CamdHost {
  readonly hooks: CamdHooks = createHooks();
  readonly hub = new StreamHub();
  readonly logger: Logger;
  readonly container: DependencyContainer;
  state!: StateStore;
  users!: UserStore;
  registry!: ElementRegistry;
  media!: MediaPlane;
  http!: FastifyInstance;
  tls!: DaemonTls;
  private httpConnections!: HttpConnections;
  private readonly plugins: LoadedPlugin[] = [];
  private readonly closers: Array<{ plugin: string; fn: () => void | Promise<void> }> = [];
  private readonly transports = new Map<string, TransportInfo>();
  private started = false;
  private stopped = false;
  private alignment?: AlignmentMonitor;

  private constructor(readonly options: HostOptions) {
    this.logger = options.logger ?? createLogger({ level: options.config.log?.level });
    this.container = tsyringeRoot.createChildContainer();
  }

  static async create(options: HostOptions): Promise<CamdHost> {
    const host = new CamdHost(options);
    await host.init();
    return host;
  }

  get version(): string {
    return CORE_VERSION;
  }

  /** The HTTP port actually bound (after start). */
  get httpPort(): number {
    const addr = this.http.server.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  private async init(): Promise<void> {
    const { config, stateDir } = this.options;
    ensureDir(stateDir);
    instrumentHooks(this.hooks, this.logger);
    this.state = new StateStore(stateDir);
    this.state.onListenerError = (err, change) => this.logger.error({ err, key: change.key }, 'a state subscriber failed');
    this.state.define(streamLatencyMode, 'core');
    // streamLatencyMode's budget also bounds how far behind a client may fall before it skips to the
    // next keyframe (the pipelines read the mode when built: see StreamManager). Live: connected
    // clients get the new budget with their next frame.
    const applyLagBudget = () => this.hub.setLagBudget(getLatencyMs(this.state.get<string>(streamLatencyMode.key)));
    applyLagBudget();
    this.state.watch(streamLatencyMode.key, applyLagBudget);
    this.state.define(streamAlignment, 'core');
    this.users = await UserStore.open({
      stateDir,
      configUsers: config.users,
      auth: config.auth,
      announce:
        this.options.announceAdmin ??
        ((u, p) => {
          process.stdout.write(
            `\ncamd: no users configured; created administrator "${u}" with password: ${p}\n      (shown once; only its hash is stored)\n\n`,
          );
        }),
    });
    this.users.guard.log = this.logger.child({ component: 'auth' });
    // The certificate beside the admin password: a configured one that cannot be used stops the start here.
    this.tls = new DaemonTls({ config, stateDir, logger: this.logger, announce: this.options.announceCertificate });
    // Resolve plugin packages first: a missing or mismatched plugin fails before any pipeline starts.
    const resolved = await this.resolvePlugins();
    const streams = configuredStreams(config);
    if (this.options.media === false) {
      this.registry = emptyRegistry();
      this.media = new StaticMediaPlane(streams, this.state, { maxPixelRate: config.media?.maxPixelRate ?? DEFAULT_MAX_PIXEL_RATE, logger: this.logger });
    } else {
      const media = await loadMediaModules();
      this.registry = await media.loadElementRegistry({ logger: this.logger });
      const manager = new media.StreamManager({
        hooks: this.hooks,
        state: this.state,
        hub: this.hub,
        registry: this.registry,
        logger: this.logger.child({ component: 'media' }),
        streams,
        isolation: config.media?.isolation,
        maxPixelRate: config.media?.maxPixelRate,
      });
      // Core's source and describeSource answers read the cameras the manager's device probe saw.
      media.installDefaultMediaTaps(this.hooks, this.registry, manager.devices);
      this.media = manager;
    }
    const limits = httpLimits(config);
    // HTTPS hands its decrypted connections to the same connections (one guard for both ports).
    this.httpConnections = new HttpConnections(limits, this.logger);
    this.http = await createHttpServer({ logger: this.logger, users: this.users, version: CORE_VERSION, connections: this.httpConnections });
    this.tls.install(this.http);
    for (const [token, value] of [
      [TOKENS.hooks, this.hooks],
      [TOKENS.state, this.state],
      [TOKENS.hub, this.hub],
      [TOKENS.streams, this.media],
      [TOKENS.users, this.users],
      [TOKENS.registry, this.registry],
      [TOKENS.logger, this.logger],
      [TOKENS.config, config],
    ] as const) {
      this.container.register(token, { useValue: value });
    }
    // Core keeps the running transports for `GET /api/plugins` (where clients find ports and URLs).
    this.hooks.transportStarted.tapPromise({ name: 'core', stage: STAGE.DEFAULT }, async (t) => void this.transports.set(`${t.plugin} ${t.protocol}`, t));
    this.hooks.transportStopped.tapPromise({ name: 'core', stage: STAGE.DEFAULT }, async (t) => void this.transports.delete(`${t.plugin} ${t.protocol}`));
    await this.setupPlugins(resolved);
    if (this.options.media !== false) this.installAlignment();
    for (const key of this.state.invalidStored) this.logger.warn({ key }, 'stored value no longer valid; using the default');
    await registerCoreApi(this.http, {
      state: this.state,
      users: this.users,
      hooks: this.hooks,
      streams: this.media,
      plugins: () => this.listPlugins(),
      health: () => this.health(),
      devices: () => this.media.listDevices(),
      snapshot: (name) => this.snapshot(name),
      hub: this.hub,
      logger: this.logger,
      limits,
    });
    registerMetrics(this.http, this);
  }

  private async resolvePlugins(): Promise<LoadedPlugin[]> {
    const { config } = this.options;
    const search = this.options.pluginSearchPaths ?? [process.cwd()];
    const resolved: LoadedPlugin[] = [];
    for (const entry of pluginEntries(config)) {
      let r;
      try {
        r = await resolvePlugin(entry.name, search);
      } catch (err) {
        if (entry.optional && err instanceof CamdError && err.code === ErrorCodes.PLUGIN_NOT_FOUND) {
          this.logger.info({ plugin: entry.name }, 'optional plugin not installed; skipped');
          continue;
        }
        throw err;
      }
      resolved.push({ def: r.def, entry, version: r.version, status: 'ready' });
    }
    for (const p of this.options.plugins ?? []) {
      const item = 'def' in p ? p : { def: p };
      checkDefinition(item.def, (item.def as { name?: string }).name ?? '<unnamed>');
      resolved.push({ def: item.def, entry: { name: item.def.name, options: item.options, required: item.required }, status: 'ready' });
    }
    const names = new Set<string>();
    for (const p of resolved) {
      if (names.has(p.def.name)) throw new CamdError(ErrorCodes.PLUGIN_DUPLICATE, `plugin "${p.def.name}" is listed twice`, { plugin: p.def.name });
      names.add(p.def.name);
    }
    return orderByRequirements(resolved);
  }

  private async setupPlugins(ordered: LoadedPlugin[]): Promise<void> {
    for (const p of ordered) {
      const options = validateOptions(p.def, p.entry.options);
      for (const key of checkStateKeys(p.def.name, p.def.stateKeys)) this.state.define(key, p.def.name);
      const scope = new PluginHttpScope(this.http, this.users, p.def.name, { port: () => this.tls.httpsPort, plain: this.tls.settings.plain });
      p.scope = scope;
      const ctx = this.contextFor(p.def, options, scope);
      try {
        await p.def.setup(ctx);
        this.logger.info({ plugin: p.def.name, version: p.version }, 'plugin ready');
      } catch (err) {
        p.status = 'failed';
        p.error = (err as Error).message;
        if (p.entry.required) {
          throw new CamdError(ErrorCodes.PLUGIN_SETUP, `required plugin "${p.def.name}" failed to set up: ${p.error}`, { plugin: p.def.name, cause: err });
        }
        this.logger.error({ plugin: p.def.name, err }, `plugin "${p.def.name}" failed to set up; continuing without it`);
      }
      this.plugins.push(p);
    }
  }

  private contextFor(def: PluginDefinition<any, any>, options: Record<string, unknown>, http: PluginHttpScope): PluginContext<any, any> {
    const child = this.container.createChildContainer();
    const state = pluginState(this.state, def.name, def.permissions ?? []);
    return Object.freeze({
      name: def.name,
      options,
      container: child,
      hooks: pluginHooks(this.hooks, def.name),
      logger: this.logger.child({ plugin: def.name }),
      state,
      settings: settingsOf(state, Array.isArray(def.stateKeys) ? undefined : def.stateKeys),
      hub: this.hub,
      streams: this.media,
      users: this.users,
      registry: this.registry,
      http,
      tls: this.tls.scope(),
      config: publicConfig(this.options.config),
      onClose: (fn: () => void | Promise<void>) => {
        this.closers.push({ plugin: def.name, fn });
      },
      provide: <T>(token: symbol, value: T) => {
        if (this.container.isRegistered(token))
          throw new CamdError(ErrorCodes.PLUGIN_DUPLICATE, `plugin "${def.name}" provides ${String(token)}, which another plugin already provides`, {
            plugin: def.name,
          });
        this.container.register(token, { useValue: value });
      },
    });
  }

  private installAlignment(): void {
    const monitor = new AlignmentMonitor(
      this.hub,
      this.state,
      () => this.media.list().map((s) => ({ name: s.name, camera: s.capture?.id ?? s.name })),
      this.logger.child({ component: 'alignment' }),
    );
    this.alignment = monitor;
    this.hooks.collectStats.tap({ name: 'core', stage: -1000 }, (report) => {
      for (const [stream, a] of Object.entries(monitor.stats())) if (report[stream]) (report[stream] as Record<string, unknown>).alignment = a;
      return report;
    });
    this.hooks.collectHealth.tap({ name: 'core', stage: -1000 }, (checks) => [...checks, ...monitor.health()]);
  }

  /** Starts the pipelines, the HTTP server and the plugins' transports. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.media.start();
    this.alignment?.start();
    const http = this.options.config.http ?? {};
    if (this.tls.settings.plain === 'off') await this.http.ready();
    else await this.http.listen({ port: http.port ?? 8080, host: http.host ?? '0.0.0.0' });
    await this.tls.listen(this.http, this.httpConnections, http.host ?? '0.0.0.0');
    await this.hooks.started.promise();
    this.logger.info({ httpPort: this.httpPort, httpsPort: this.tls.httpsPort || undefined, streams: this.media.list().map((s) => s.name) }, 'camd started');
  }

  /** Stops everything; safe to call twice. Leaves no media process behind. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const c of this.closers.reverse()) {
      try {
        await c.fn();
      } catch (err) {
        this.logger.error({ err, plugin: c.plugin }, 'plugin close failed');
      }
    }
    this.alignment?.stop();
    await this.media.stop().catch((err) => this.logger.error({ err }, 'stopping pipelines failed'));
    await this.tls.close().catch((err) => this.logger.error({ err }, 'stopping HTTPS failed'));
    await this.http.close().catch(() => undefined);
  }

  /**
   * `camd probe`: the cameras, every encoder and hardware decoder with a trial, and the source path
   * and encoder each configured stream would get; no pipeline starts. Needs media.
   */
  async probe(): Promise<ProbeReport> {
    const media = this.media as MediaPlane & { probe?(): Promise<ProbeReport> };
    if (!media.probe) throw new CamdError(ErrorCodes.CONFIG, 'camd probe needs the media plane (GStreamer)');
    return media.probe();
  }

  health(): { healthy: boolean; checks: HealthCheck[] } {
    const checks: HealthCheck[] = [];
    for (const s of this.media.list()) {
      const h = this.media.health(s.name);
      checks.push({ name: `stream:${s.name}`, healthy: h.healthy, detail: h.reasons.join('; ') || undefined });
    }
    for (const p of this.plugins) {
      if (p.status === 'failed') checks.push({ name: `plugin:${p.def.name}`, healthy: false, detail: p.error });
    }
    const all = gatherHealth(this.hooks, checks);
    return { healthy: all.every((c) => c.healthy), checks: all };
  }

  listPlugins(): PluginListing[] {
    return this.plugins.map((p) => ({
      name: p.def.name,
      version: p.version,
      apiVersion: p.def.apiVersion,
      description: p.def.description,
      status: p.status,
      error: p.error,
      stateKeys: checkStateKeys(p.def.name, p.def.stateKeys).map((k) => k.key),
      routes: [...(p.scope?.routes ?? [])],
      transports: [...this.transports.values()].filter((t) => t.plugin === p.def.name).map(({ protocol, port, urls }) => ({ protocol, port, urls })),
    }));
  }

  private snapshots?: Promise<{ get(stream: string): Promise<Buffer> }>;

  private async snapshot(stream: string): Promise<Buffer> {
    this.snapshots ??= loadMediaModules().then(({ Snapshots }) => new Snapshots(this.hub));
    return (await this.snapshots).get(stream);
  }
}

export { PLUGIN_API_VERSION };

interface MediaModules {
  loadElementRegistry(opts: { logger: Logger }): Promise<ElementRegistry>;
  installDefaultMediaTaps(hooks: CamdHooks, registry: ElementRegistry, devices?: unknown): void;
  StreamManager: new (deps: {
    hooks: CamdHooks;
    state: StateStore;
    hub: StreamHub;
    registry: ElementRegistry;
    logger: Logger;
    streams: ReturnType<typeof configuredStreams>;
    isolation?: MediaIsolation;
    maxPixelRate?: number;
  }) => MediaPlane & { readonly devices: unknown };
  Snapshots: new (hub: StreamHub) => { get(stream: string): Promise<Buffer> };
}

/** The GStreamer runtime is loaded only when pipelines run, so API-only hosts never touch it. */
async function loadMediaModules(): Promise<MediaModules> {
  return (await import('./media/pipeline/index.js')) as unknown as MediaModules;
}
