import {
  ADMIN_ONLY,
  definePlugin,
  MEDIA_READ,
  MEDIA_WRITE,
  PLUGIN_API_VERSION,
  SYSTEM,
  tlsSettings,
  v,
  type PluginContext,
  type StateKeyDefinition,
} from '@camd/core';
import { RtspAuth, type AuthMethod } from './rtsp-auth.js';
import { RtspServer } from './rtsp-server.js';
import { RtspsListener } from './rtsps.js';

export const PLUGIN_NAME = '@camd/plugin-rtsp';

/** RTSP settings: rtspEnabled, rtspPort, rtspPath (read-only). */
export const rtspKeys = {
  rtspEnabled: {
    key: 'rtspEnabled',
    default: true,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'RTSP server on/off (off closes every session)',
  },
  rtspPort: {
    key: 'rtspPort',
    default: 8554,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 1, max: 65535 }),
    description: 'RTSP TCP port (a change rebinds)',
  },
  rtspConfigPort: {
    key: 'rtspConfigPort',
    default: 0,
    permissionRead: MEDIA_READ,
    // Written by the plugin itself at start (as the daemon, which holds Admin); nobody else needs to.
    permissionWrite: ADMIN_ONLY,
    validate: v.int({ min: 0, max: 65535 }),
    description: "The config's rtsp.port as of the last start (0: none); a different one in the config replaces rtspPort",
  },
  rtspsEnabled: {
    key: 'rtspsEnabled',
    default: true,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.bool(),
    description: 'RTSPS (RTSP over TLS) on/off, while RTSP is on and the daemon has TLS (off closes its sessions)',
  },
  rtspsPort: {
    key: 'rtspsPort',
    default: 8322,
    permissionRead: MEDIA_READ,
    permissionWrite: MEDIA_WRITE,
    validate: v.int({ min: 1, max: 65535 }),
    description: 'RTSPS TCP port (a change rebinds RTSPS only)',
  },
  rtspsConfigPort: {
    key: 'rtspsConfigPort',
    default: 0,
    permissionRead: MEDIA_READ,
    permissionWrite: ADMIN_ONLY,
    validate: v.int({ min: 0, max: 65535 }),
    description: "The config's rtsp.tls.port as of the last start (0: none); a different one in the config replaces rtspsPort",
  },
  rtspPath: {
    key: 'rtspPath',
    default: '/stream1',
    permissionRead: MEDIA_READ,
    permissionWrite: [],
    validate: v.string({ maxLength: 255 }),
    description: 'Path of the primary stream (read-only)',
  },
} satisfies Record<string, StateKeyDefinition<any>>;

export interface RtspOptions {
  /** Overrides `rtsp.port` of the config and the stored `rtspPort` (tests use free ports). */
  port?: number;
  /** Overrides `rtsp.tls.port` and the stored `rtspsPort`, as `port` does. */
  tlsPort?: number;
  host: string;
  auth: AuthMethod[];
  sessionTimeoutMs: number;
  maxSessions: number;
  /** Sessions one user may hold (an NVR recording every stream is far below it); more SETUPs answer 503. */
  maxSessionsPerUser: number;
  /** A session SETUP and not PLAYed within this time ends, keep-alives or not. */
  playTimeoutMs: number;
  /** Open TCP connections at most (plain RTSP and both sides of HTTP tunnels); more are dropped. */
  maxConnections: number;
  /** Open connections from one address (IPv6: one /64); more are answered 503 and closed. */
  maxConnectionsPerAddress: number;
  /** Connections on which no request has authenticated yet (OPTIONS does not), in total and from one address. */
  maxUnauthenticated: number;
  maxUnauthenticatedPerAddress: number;
  /** A connection that has not authenticated within this time is closed. */
  unauthenticatedTimeoutMs: number;
  /** A connection without a session that sends nothing for this long is closed. */
  idleTimeoutMs: number;
  headTimeoutMs: number;
  maxQueueFrames: number;
  /**
   * Bytes a reader's socket may hold beyond what the kernel took before the session tells the hub
   * it is busy. Past it, frames wait in the hub, where streamLatencyMode's lag budget decides when
   * the reader skips to the next keyframe. 16 KiB (Node's own high-water mark) keeps that budget
   * true: 1 MiB, the former default, hid 2 s of a 4 Mbit/s stream from it (and 16 s at 500 kbit/s).
   */
  highWaterBytes: number;
  stallMs: number;
}

export default definePlugin<RtspOptions>({
  name: PLUGIN_NAME,
  apiVersion: PLUGIN_API_VERSION,
  description: 'RTSP 1.0 server: RTP over TCP and UDP, RTSP over HTTP, RTSPS (RTSP over TLS), Digest and Basic authentication',
  stateKeys: Object.values(rtspKeys),
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      tlsPort: { type: 'integer', minimum: 1, maximum: 65535 },
      host: { type: 'string', default: '0.0.0.0' },
      auth: { type: 'array', items: { enum: ['digest', 'basic'] }, minItems: 1, default: ['digest', 'basic'] },
      sessionTimeoutMs: { type: 'integer', minimum: 1000, default: 60_000 },
      maxSessions: { type: 'integer', minimum: 1, default: 256 },
      maxSessionsPerUser: { type: 'integer', minimum: 1, default: 64 },
      playTimeoutMs: { type: 'integer', minimum: 500, default: 20_000 },
      maxConnections: { type: 'integer', minimum: 1, default: 1024 },
      maxConnectionsPerAddress: { type: 'integer', minimum: 1, default: 64 },
      maxUnauthenticated: { type: 'integer', minimum: 1, default: 256 },
      maxUnauthenticatedPerAddress: { type: 'integer', minimum: 1, default: 32 },
      unauthenticatedTimeoutMs: { type: 'integer', minimum: 100, default: 10_000 },
      idleTimeoutMs: { type: 'integer', minimum: 100, default: 60_000 },
      headTimeoutMs: { type: 'integer', minimum: 100, default: 10_000 },
      maxQueueFrames: { type: 'integer', minimum: 2, default: 90 },
      highWaterBytes: { type: 'integer', minimum: 16384, default: 16384 },
      stallMs: { type: 'integer', minimum: 100, default: 10_000 },
    },
  },
  async setup(ctx) {
    await applyConfig(ctx);
    const auth = new RtspAuth(ctx.users, ctx.options.auth);
    let server: RtspServer | undefined;
    let transition: Promise<void> = Promise.resolve();

    const start = async () => {
      const port = ctx.state.get<number>('rtspPort');
      const s = new RtspServer({
        port,
        host: ctx.options.host,
        hub: ctx.hub,
        hooks: ctx.hooks,
        log: ctx.logger,
        auth,
        streams: () => ctx.streams.list(),
        sessionTimeoutMs: ctx.options.sessionTimeoutMs,
        maxSessions: ctx.options.maxSessions,
        maxSessionsPerUser: ctx.options.maxSessionsPerUser,
        playTimeoutMs: ctx.options.playTimeoutMs,
        maxConnections: ctx.options.maxConnections,
        connectionLimits: {
          maxConnectionsPerAddress: ctx.options.maxConnectionsPerAddress,
          maxUnauthenticated: ctx.options.maxUnauthenticated,
          maxUnauthenticatedPerAddress: ctx.options.maxUnauthenticatedPerAddress,
          unauthenticatedTimeoutMs: ctx.options.unauthenticatedTimeoutMs,
        },
        idleTimeoutMs: ctx.options.idleTimeoutMs,
        headTimeoutMs: ctx.options.headTimeoutMs,
        limits: { maxQueue: ctx.options.maxQueueFrames, highWater: ctx.options.highWaterBytes, stallMs: ctx.options.stallMs },
      });
      try {
        await s.listen();
      } catch (err) {
        ctx.logger.error({ err, port }, `rtsp: cannot listen on port ${port}`);
        listenError = (err as Error).message;
        return;
      }
      listenError = undefined;
      await s.bindUdp();
      server = s;
      const urls = ctx.streams.list().map((st) => `rtsp://<host>:${port}${st.path}`);
      ctx.logger.info({ port, streams: urls }, 'rtsp: listening');
      await ctx.hooks.transportStarted.promise({ plugin: PLUGIN_NAME, protocol: 'rtsp', port, urls });
      await startSecure(s);
    };
    /** RTSPS beside RTSP, when the daemon has TLS and the config did not turn it off. */
    const startSecure = async (s: RtspServer) => {
      if (!ctx.tls || !rtspsConfigured || !ctx.state.get<boolean>('rtspsEnabled')) return;
      const port = ctx.state.get<number>('rtspsPort');
      const l = new RtspsListener({
        tls: ctx.tls,
        host: ctx.options.host,
        log: ctx.logger,
        maxConnections: ctx.options.maxConnections,
        guard: s.guard,
        accept: (c, admission) => s.acceptConnection(c, admission),
      });
      try {
        await l.listen(port);
      } catch (err) {
        ctx.logger.error({ err, port }, `rtsps: cannot listen on port ${port}`);
        secureError = (err as Error).message;
        return;
      }
      secureError = undefined;
      secure = l;
      const urls = ctx.streams.list().map((st) => `rtsps://<host>:${port}${st.path}`);
      ctx.logger.info({ port, streams: urls, fingerprint: ctx.tls.fingerprint }, 'rtsps: listening');
      await ctx.hooks.transportStarted.promise({ plugin: PLUGIN_NAME, protocol: 'rtsps', port, urls });
    };
    const stopSecure = async () => {
      const l = secure;
      secure = undefined;
      if (!l) return;
      const port = l.port;
      await l.close();
      await ctx.hooks.transportStopped.promise({ plugin: PLUGIN_NAME, protocol: 'rtsps', port });
    };
    const stop = async () => {
      await stopSecure();
      const s = server;
      server = undefined;
      if (!s) return;
      await s.close();
      await ctx.hooks.transportStopped.promise({ plugin: PLUGIN_NAME, protocol: 'rtsp', port: s.port });
    };
    // Settings apply live, one transition at a time.
    const apply = () => {
      transition = transition.then(async () => {
        await stop();
        if (ctx.state.get<boolean>('rtspEnabled')) await start();
      });
      return transition;
    };
    // RTSPS settings rebind RTSPS only: plain RTSP sessions play on.
    const applySecure = () => {
      transition = transition.then(async () => {
        await stopSecure();
        secureError = undefined;
        if (server) await startSecure(server);
      });
      return transition;
    };
    let listenError: string | undefined;
    let secure: RtspsListener | undefined;
    let secureError: string | undefined;
    const rtspsConfigured = tlsSettings(ctx.config).rtspsPort !== undefined || ctx.options.tlsPort !== undefined;

    ctx.hooks.started.tapPromise(PLUGIN_NAME, () => apply());
    const offs = [
      ctx.state.watch('rtspEnabled', () => void apply()),
      ctx.state.watch('rtspPort', () => void apply()),
      ctx.state.watch('rtspsEnabled', () => void applySecure()),
      ctx.state.watch('rtspsPort', () => void applySecure()),
    ];
    ctx.hooks.collectStats.tap(PLUGIN_NAME, (report) => {
      for (const stream of Object.keys(report)) {
        const entry = report[stream] as Record<string, unknown>;
        entry.rtsp = server
          ? { port: server.port, tlsPort: secure?.port || null, ...server.statsFor(stream) }
          : { port: null, tlsPort: null, sessions: 0, serverLatencyUs: null, clients: [] };
      }
      return report;
    });
    ctx.hooks.collectHealth.tap(PLUGIN_NAME, (checks) => {
      if (ctx.state.get<boolean>('rtspEnabled') && listenError) checks.push({ name: 'rtsp', healthy: false, detail: listenError });
      if (server && secureError) checks.push({ name: 'rtsps', healthy: false, detail: secureError });
      return checks;
    });
    ctx.onClose(async () => {
      for (const off of offs) off();
      await transition;
      await stop();
    });
  },
});

/**
 * The config's `rtsp.enabled`/`rtsp.port`/`rtsp.tls.port` (and the plugin's `port`/`tlsPort` options)
 * seed the state keys. A port set through the API wins over the config at the next start, as every
 * setting does, until the config's port itself changes: an edited config is the newer wish and
 * replaces it. `rtspConfigPort`/`rtspsConfigPort` remember the config's port of the last start.
 */
async function applyConfig(ctx: PluginContext<RtspOptions>): Promise<void> {
  const cfg = (ctx.config.rtsp ?? {}) as { enabled?: boolean; port?: number; tls?: { port?: number } | false };
  const primary = ctx.streams.list()[0];
  if (primary && ctx.state.get('rtspPath') !== primary.path) ctx.logger.debug({ path: primary.path }, 'rtsp: primary path from config');
  const seed = async (key: string, configKey: string, value: number | undefined, what: string) => {
    if (value === undefined || value === ctx.state.get<number>(configKey)) return;
    const previous = ctx.state.get<number>(key);
    await ctx.state.set(key, value, SYSTEM);
    await ctx.state.set(configKey, value, SYSTEM);
    if (previous !== value) ctx.logger.info({ port: value, previous }, `rtsp: the config's ${what} changed; it replaces the stored ${key}`);
  };
  await seed('rtspPort', 'rtspConfigPort', cfg.port, 'rtsp.port');
  await seed('rtspsPort', 'rtspsConfigPort', cfg.tls ? cfg.tls.port : undefined, 'rtsp.tls.port');
  if (ctx.options.port !== undefined) await ctx.state.set('rtspPort', ctx.options.port, SYSTEM);
  if (ctx.options.tlsPort !== undefined) await ctx.state.set('rtspsPort', ctx.options.tlsPort, SYSTEM);
  if (cfg.enabled === false && ctx.state.get('rtspEnabled') === true) await ctx.state.set('rtspEnabled', false, SYSTEM);
}
