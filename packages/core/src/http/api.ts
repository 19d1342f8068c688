import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { ADMIN_ONLY, allows, MEDIA_READ } from '../auth/permissions.js';
import type { UserStore } from '../auth/users.js';
import { STAGE } from '../hooks.js';
import type { CamdHooks, HealthCheck, StatsReport } from '../hooks.js';
import type { StateStore } from '../state/store.js';
import type { StreamCatalog } from '../plugins/contract.js';
import { CamdError, CoreErrors, ErrorCodes } from '../errors.js';
import { gatherStats } from '../collectors.js';
import { callerOf, requirePermission } from './auth.js';
import { registerEventFeed } from './events.js';
import { registerMjpegRoute } from './mjpeg.js';
import { authStats, registerAuthApi } from './auth-api.js';
import type { StreamHub } from '../media/hub.js';
import type { HttpLimits } from '../config.js';
import { ClientSlots } from '../net/client-slots.js';

export interface PluginListing {
  name: string;
  version?: string;
  apiVersion: number;
  description?: string;
  status: 'ready' | 'failed';
  error?: string;
  stateKeys: string[];
  routes: { method: string; url: string }[];
  /** Transports the plugin runs now (from `transportStarted`/`transportStopped`): protocol, port, URLs. */
  transports: { protocol: string; port?: number; urls?: readonly string[] }[];
}

export interface ApiDeps {
  state: StateStore;
  users: UserStore;
  hooks: CamdHooks;
  streams: StreamCatalog;
  plugins: () => PluginListing[];
  health: () => { healthy: boolean; checks: HealthCheck[] };
  /** The cameras the device probe sees (`GET /api/devices`). */
  devices: () => Promise<unknown>;
  snapshot: (stream: string) => Promise<Buffer>;
  /** The stream hub, for routes that stream frames (MJPEG over HTTP). */
  hub: StreamHub;
  logger: Logger;
  /** The HTTP server's limits: event feeds and MJPEG clients per user and in total. */
  limits: HttpLimits;
}

const errorBody = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } } };

/** Core's HTTP API: state, change feed, health, stats, streams, snapshots, plugins. */
export async function registerCoreApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const authenticated = requirePermission(deps.users, []);
  const mediaRead = requirePermission(deps.users, MEDIA_READ);

  // Load balancers and watchdogs ask anonymously and read the status: 200 healthy, 503 not, for
  // everyone alike. What fails, and what else is checked (publish targets, plugins), is Media_r's.
  const identify = requirePermission(deps.users, []);
  const identifyIfAsked: preHandlerAsyncHookHandler = async function (request, reply) {
    if (request.headers.authorization !== undefined) return identify.call(this, request, reply);
  };
  app.get(
    '/api/health',
    {
      preHandler: identifyIfAsked,
      schema: {
        summary: "Healthy or not (200/503) and each stream's health, to anyone; with Media_r credentials every check (publish targets, plugins) and its detail",
        security: [{}, { basic: [] }],
      },
    },
    async (req, reply) => {
      const h = deps.health();
      const caller = callerOf(req);
      return reply.code(h.healthy ? 200 : 503).send(caller && allows(caller, MEDIA_READ) ? h : publicHealth(h, deps.streams));
    },
  );

  app.get('/api/state', { preHandler: authenticated, schema: { summary: 'Every setting the caller may read' } }, async (req) => ({
    keys: deps.state.list(callerOf(req)!),
  }));

  app.get<{ Params: { key: string } }>(
    '/api/state/:key',
    { preHandler: authenticated, schema: { summary: 'One setting', response: { 403: errorBody, 404: errorBody } } },
    async (req) => {
      const caller = callerOf(req)!;
      const value = deps.state.get(req.params.key, caller);
      return { key: req.params.key, value };
    },
  );

  app.put<{ Params: { key: string }; Body: { value: unknown } }>(
    '/api/state/:key',
    {
      preHandler: authenticated,
      schema: {
        summary: 'Change one setting (validated, permission-checked, persisted, applied live)',
        body: { type: 'object', required: ['value'], properties: { value: {} } },
        response: { 400: errorBody, 403: errorBody, 404: errorBody },
      },
    },
    async (req) => {
      const caller = callerOf(req)!;
      // Unknown keys answer 404 before permission: existence of keys is not a secret.
      if (!deps.state.has(req.params.key)) throw new CamdError(ErrorCodes.STATE_UNKNOWN_KEY, `no state key "${req.params.key}"`);
      const value = await deps.state.set(req.params.key, req.body.value, caller);
      deps.logger.info({ key: req.params.key, by: caller.username }, 'setting changed');
      return { key: req.params.key, value: deps.state.present(req.params.key, value, caller) };
    },
  );

  const feeds = new ClientSlots('event streams', {
    perUser: deps.limits.maxEventStreamsPerUser,
    total: deps.limits.maxEventStreams,
    perUserOption: 'http.limits.maxEventStreamsPerUser',
    totalOption: 'http.limits.maxEventStreams',
  });
  registerEventFeed(app, deps.state, authenticated, feeds);

  // A room of dashboards and NVRs polling stats must not hold up the frame path, which shares this
  // event loop: the report is gathered and serialised at most once per STATS_CACHE_MS, whatever
  // the number of callers, and each caller gets the same bytes.
  const stats = cachedJson(STATS_CACHE_MS, () => {
    const report: StatsReport = {};
    for (const s of deps.streams.list()) report[s.name] = deps.streams.stats(s.name) ?? {};
    return gatherStats(deps.hooks, report);
  });
  // A caller who just changed a setting, or a client that just came or went, shows in the next report.
  deps.state.subscribe(() => stats.invalidate());
  deps.hooks.clientConnected.tap({ name: 'core', stage: STAGE.DEFAULT }, () => stats.invalidate());
  deps.hooks.clientDisconnected.tap({ name: 'core', stage: STAGE.DEFAULT }, () => stats.invalidate());
  app.get(
    '/api/stats',
    {
      preHandler: mediaRead,
      schema: {
        summary:
          'Per stream: clientCount, totalBytesStreamed, currentBitrate, frameDrops, errors, uptime plus fps, keyframe interval, consumers and plugin figures; `auth`: login checks, failures, refusals, lockouts (addresses for an Admin)',
      },
    },
    async (req, reply) => {
      // The streams' report is the cached bytes; the login figures are a few counters, added per caller.
      const auth = JSON.stringify(authStats(deps.users.guard, allows(callerOf(req)!, ADMIN_ONLY)));
      const body = stats();
      return reply.type('application/json; charset=utf-8').send(body === '{}' ? `{"auth":${auth}}` : `${body.slice(0, -1)},"auth":${auth}}`);
    },
  );

  registerAuthApi(app, deps.users);

  app.get(
    '/api/devices',
    {
      preHandler: mediaRead,
      schema: { summary: 'Cameras (GstDeviceMonitor, Video/Source): formats, sizes, rates, controls, the streams reading each; configured ones not seen' },
    },
    async () => deps.devices(),
  );

  app.get('/api/streams', { preHandler: mediaRead, schema: { summary: 'Configured streams and their current settings' } }, async () => ({
    // A shared capture is named by id and its streams; where its frames live is internal.
    streams: deps.streams.list().map(({ capture, ...s }) => (capture ? { ...s, capture: { id: capture.id, streams: capture.streams } } : s)),
  }));

  app.get<{ Params: { name: string } }>(
    '/api/streams/:name/snapshot.jpg',
    { preHandler: mediaRead, schema: { summary: 'A current JPEG picture of the stream (no second capture)' } },
    async (req, reply) => {
      if (!deps.streams.get(req.params.name)) throw new CamdError(ErrorCodes.STREAM_UNKNOWN, `no stream "${req.params.name}"`);
      let jpeg: Buffer;
      try {
        jpeg = await deps.snapshot(req.params.name);
      } catch (err) {
        deps.logger.warn({ err, stream: req.params.name }, 'snapshot failed');
        throw new CoreErrors.SNAPSHOT(req.params.name, (err as Error).message, { cause: err });
      }
      return reply.header('Content-Type', 'image/jpeg').header('Cache-Control', 'no-store').send(jpeg);
    },
  );

  // Same credentials and permission as the snapshot.
  const mjpegClients = new ClientSlots('MJPEG clients', {
    perUser: deps.limits.maxMjpegClientsPerUser,
    total: deps.limits.maxMjpegClients,
    perUserOption: 'http.limits.maxMjpegClientsPerUser',
    totalOption: 'http.limits.maxMjpegClients',
  });
  registerMjpegRoute(app, { hub: deps.hub, streams: deps.streams, logger: deps.logger, preHandler: mediaRead, slots: mjpegClients });

  app.get('/api/plugins', { preHandler: authenticated, schema: { summary: 'Loaded plugins: version, plugin API version, state keys, routes' } }, async () => ({
    plugins: deps.plugins(),
  }));
}

/**
 * `/api/health` as an anonymous caller gets it: the verdict and each stream's check by name, without
 * details (they can name devices, hosts, errors) and without any other check (publish targets,
 * plugins): nothing about the configuration.
 */
export function publicHealth(h: { healthy: boolean; checks: HealthCheck[] }, streams: StreamCatalog): { healthy: boolean; checks: HealthCheck[] } {
  const names = new Set(streams.list().map((s) => `stream:${s.name}`));
  const checks: HealthCheck[] = [];
  for (const c of h.checks) {
    if (!names.has(c.name)) continue;
    names.delete(c.name); // the core's own check comes first; a plugin's of the same name is not it
    checks.push({ name: c.name, healthy: c.healthy });
  }
  return { healthy: h.healthy, checks };
}

/** How long one stats report answers every caller (figures are 2 s windows: 250 ms is invisible). */
export const STATS_CACHE_MS = 250;

/** `build()`'s result as JSON, made at most once per `ttlMs` (or again after `invalidate()`). */
export function cachedJson(ttlMs: number, build: () => unknown, clock: () => number = Date.now): (() => string) & { invalidate(): void } {
  let at = -Infinity;
  let body = '';
  const get = () => {
    const now = clock();
    if (now - at >= ttlMs) {
      body = JSON.stringify(build());
      at = now;
    }
    return body;
  };
  return Object.assign(get, { invalidate: () => void (at = -Infinity) });
}
