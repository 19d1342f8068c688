import { ADMIN_ONLY, definePlugin, MEDIA_READ, MEDIA_WRITE, PLUGIN_API_VERSION, SYSTEM, v, type PluginContext, type StateKeyDefinition } from '@camd/core';
import { RtspAuth, type AuthMethod } from './rtsp-auth.js';
import { RtspServer } from './rtsp-server.js';

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
  description: 'RTSP 1.0 server: RTP over TCP and UDP, RTSP over HTTP, Digest and Basic authentication',
  stateKeys: Object.values(rtspKeys),
  optionsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      port: { type: 'integer', minimum: 1, maximum: 65535 },
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
    };
    const stop = async () => {
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
    let listenError: string | undefined;

    ctx.hooks.started.tapPromise(PLUGIN_NAME, () => apply());
    const offs = [ctx.state.watch('rtspEnabled', () => void apply()), ctx.state.watch('rtspPort', () => void apply())];
    ctx.hooks.collectStats.tap(PLUGIN_NAME, (report) => {
      for (const stream of Object.keys(report)) {
        const entry = report[stream] as Record<string, unknown>;
        entry.rtsp = server ? { port: server.port, ...server.statsFor(stream) } : { port: null, sessions: 0, serverLatencyUs: null, clients: [] };
      }
      return report;
    });
    ctx.hooks.collectHealth.tap(PLUGIN_NAME, (checks) => {
      if (ctx.state.get<boolean>('rtspEnabled') && listenError) checks.push({ name: 'rtsp', healthy: false, detail: listenError });
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
 * The config's `rtsp.enabled`/`rtsp.port` (and the plugin's `port` option) seed the state keys.
 * A port set through the API wins over the config at the next start, as every setting does, until
 * the config's `rtsp.port` itself changes: an edited config is the newer wish and replaces it.
 * `rtspConfigPort` remembers the config's port of the last start to tell the two apart.
 */
async function applyConfig(ctx: PluginContext<RtspOptions>): Promise<void> {
  const cfg = (ctx.config.rtsp ?? {}) as { enabled?: boolean; port?: number };
  const primary = ctx.streams.list()[0];
  if (primary && ctx.state.get('rtspPath') !== primary.path) ctx.logger.debug({ path: primary.path }, 'rtsp: primary path from config');
  if (cfg.port !== undefined && cfg.port !== ctx.state.get<number>('rtspConfigPort')) {
    const previous = ctx.state.get<number>('rtspPort');
    await ctx.state.set('rtspPort', cfg.port, SYSTEM);
    await ctx.state.set('rtspConfigPort', cfg.port, SYSTEM);
    if (previous !== cfg.port) ctx.logger.info({ port: cfg.port, previous }, "rtsp: the config's rtsp.port changed; it replaces the stored rtspPort");
  }
  if (ctx.options.port !== undefined) await ctx.state.set('rtspPort', ctx.options.port, SYSTEM);
  if (cfg.enabled === false && ctx.state.get('rtspEnabled') === true) await ctx.state.set('rtspEnabled', false, SYSTEM);
}
