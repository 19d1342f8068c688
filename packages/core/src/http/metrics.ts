import { execFileSync } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { type Caller, MEDIA_READ, type Permission } from '../auth/permissions.js';
import type { UserStore } from '../auth/users.js';
import type { CamdConfig } from '../config.js';
import type { CamdHooks, HealthCheck, StatsReport } from '../hooks.js';
import type { StreamCatalog } from '../plugins/contract.js';
import { gatherStats } from '../collectors.js';
import { AUTH_HANDLER, refusalAnswer, requirePermission } from './auth.js';

/** What `/metrics` reads: the host (structurally), so registration is one call. */
export interface MetricsSource {
  readonly hooks: CamdHooks;
  readonly users: UserStore;
  readonly media: StreamCatalog & { mediaPids?(): number[] };
  readonly version: string;
  readonly options: { readonly config: CamdConfig };
  readonly logger: Logger;
  health(): { healthy: boolean; checks: HealthCheck[] };
  listPlugins(): Array<{ transports: Array<{ protocol: string }> }>;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * `GET /metrics` in the Prometheus text format. Every figure is read when scraped, from the same
 * sources as `/api/stats` (`streams.stats(name)` then the `collectStats` hook) and from /proc for the
 * daemon and its media processes: nothing is counted per frame for it. It needs a credential, as
 * `/api/stats` does: Basic or Digest of a user with Media_r, or the config's `metrics.bearerToken`
 * (what Prometheus' `authorization` sends); `metrics: { public: true }` opens it to anyone.
 */
export function registerMetrics(app: FastifyInstance, src: MetricsSource): void {
  const metrics = createMetrics(src);
  const open = metricsArePublic(src.options.config.metrics, src.logger);
  app.get(
    '/metrics',
    {
      ...(open ? {} : { preHandler: metricsAuth(src.users, src.options.config.metrics?.bearerToken) }),
      schema: {
        summary: `Prometheus metrics: streams, transports, processes${open ? ' (metrics.public: no credentials)' : ' (Media_r, or the bearer token of metrics.bearerToken)'}`,
        ...(open ? { security: [] } : {}),
      },
    },
    async (_req, reply) => reply.header('Content-Type', CONTENT_TYPE).send(await metrics.scrape()),
  );
}

/**
 * Whether `/metrics` answers without credentials: `public: true`. The key of earlier releases,
 * `auth`, keeps the meaning it was written with: `auth: false` (the old default, spelled out) still
 * opens it, with a warning naming `public: true`; `auth: true` is now the default.
 */
function metricsArePublic(m: CamdConfig['metrics'], logger: Logger): boolean {
  if (m?.public !== undefined) return m.public;
  if (m?.auth === false) {
    logger.warn('config metrics.auth: false is deprecated: GET /metrics stays open as it says; write metrics.public: true instead');
    return true;
  }
  return false;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Who a right bearer token is, for the brute-force guard (its failures are counted under this name). */
const BEARER: Caller = Object.freeze({ username: '(metrics bearer token)', permissions: Object.freeze(['Media_r'] as Permission[]) });

/**
 * `Authorization: Bearer <token>` compared with the configured token in constant time (both hashed
 * first, so that neither the length nor a prefix leaks), else Basic or Digest with Media_r. The token
 * is never logged. A token is a login like any other: through the brute-force guard (wrong ones count
 * against the address; a locked-out address is refused 429 without a comparison).
 */
function metricsAuth(users: UserStore, token: string | undefined): preHandlerAsyncHookHandler {
  const mediaRead = requirePermission(users, MEDIA_READ);
  const expected = token === undefined ? undefined : sha256(token);
  return Object.assign(
    async function metricsAuth(this: FastifyInstance, request: Parameters<preHandlerAsyncHookHandler>[0], reply: Parameters<preHandlerAsyncHookHandler>[1]) {
      const bearer = /^Bearer[ \t]+(\S{1,4096})[ \t]*$/i.exec(request.headers.authorization ?? '');
      if (!bearer) return mediaRead.call(this, request, reply);
      const outcome = await users.guard.attempt({ address: request.socket.remoteAddress, username: BEARER.username, protocol: 'http' }, () =>
        expected && timingSafeEqual(sha256(bearer[1]!), expected) ? BEARER : undefined,
      );
      if (outcome.kind === 'ok') return;
      if (outcome.kind === 'refused') {
        const r = refusalAnswer(outcome);
        return reply.code(r.status).header('Retry-After', r.retryAfter).send(r.body);
      }
      return reply
        .code(401)
        .header('WWW-Authenticate', 'Bearer realm="camd"')
        .send({
          error: 'Unauthorized',
          code: 'CAMD_ERR_AUTH_REQUIRED',
          message: expected
            ? 'the bearer token is not the one configured (metrics.bearerToken)'
            : 'no bearer token is configured (metrics.bearerToken); use Basic or Digest',
        });
    },
    { [AUTH_HANDLER]: true },
  );
}

/** The registry and its one-shot fill; exported for tests and embedders that serve metrics elsewhere. */
export function createMetrics(src: MetricsSource): { registry: Registry; scrape(): Promise<string> } {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: [registry] });
  const S = ['stream'];
  const m = {
    info: gauge('camd_info', 'camd core version (always 1)', ['version']),
    healthy: gauge('camd_healthy', '1 when /api/health answers 200 (every stream plays, every plugin set up), else 0'),
    healthCheck: gauge('camd_health_check', 'Each health check of /api/health: 1 healthy, 0 failing', ['check']),
    streamInfo: gauge('camd_stream_info', 'Configured streams (always 1)', ['stream', 'path', 'codec']),
    up: gauge('camd_stream_up', '1 while the stream delivers frames, else 0', S),
    clients: gauge('camd_stream_clients', 'Clients of the stream (all transports)', S),
    bytes: gauge(
      'camd_stream_client_bytes',
      "Bytes delivered to the stream's clients since the daemon started, departed clients included (totalBytesStreamed)",
      S,
    ),
    // Prometheus base units: bytes. Multiply by 8 for the bit/s of /api/stats and the settings.
    bitrate: gauge('camd_stream_bitrate_bytes_per_second', 'Rate the encoder produced over the last 2 s (currentBitrate / 8)', S),
    target: gauge('camd_stream_target_bitrate_bytes_per_second', "The encoder's configured rate (streamBitrate / 8)", S),
    fps: gauge('camd_stream_fps', 'Frames per second the encoder produced over the last 2 s', S),
    drops: gauge('camd_stream_frame_drops', "Frames dropped for the stream's current clients (slow readers skip to the next keyframe)", S),
    errors: counter('camd_stream_errors_total', 'Pipeline errors and stalls since the daemon started', S),
    restarts: counter('camd_stream_restarts_total', 'Pipeline restarts since the daemon started', S),
    keyframe: gauge('camd_stream_keyframe_interval_seconds', 'Time between the last two keyframes', S),
    uptime: gauge('camd_stream_uptime_seconds', "Time since the running pipeline's first frame", S),
    latency: gauge('camd_stream_capture_latency_seconds', 'Median capture-to-daemon latency (alignment monitor)', S),
    abrTarget: gauge(
      'camd_stream_abr_target_bitrate_bytes_per_second',
      'Rate adaptive bitrate (plugin-abr) currently sets for the stream (its bit/s target / 8)',
      S,
    ),
    abrEnabled: gauge('camd_stream_abr_enabled', '1 when adaptive bitrate is on (plugin-abr)', S),
    captureRestarts: counter('camd_capture_restarts_total', 'Restarts of a shared capture since the daemon started', ['capture']),
    tClients: gauge('camd_transport_clients', 'Clients of the stream per transport', ['stream', 'transport']),
    tBytes: gauge('camd_transport_client_bytes', 'Bytes delivered to the current clients per stream and transport', ['stream', 'transport']),
    tDrops: gauge('camd_transport_frame_drops', 'Frames dropped for the current clients per stream and transport', ['stream', 'transport']),
    cpu: counter('camd_process_cpu_seconds_total', 'User and system CPU time of the daemon and of each media process (/proc/<pid>/stat)', ['process', 'pid']),
    rss: gauge('camd_process_resident_memory_bytes', 'Resident memory of the daemon and of each media process (VmRSS)', ['process', 'pid']),
  };

  const fill = () => {
    for (const metric of Object.values(m)) metric.reset();
    m.info.set({ version: src.version }, 1);
    const health = src.health();
    m.healthy.set(health.healthy ? 1 : 0);
    for (const c of health.checks) m.healthCheck.set({ check: c.name }, c.healthy ? 1 : 0);

    const report: StatsReport = {};
    for (const s of src.media.list()) report[s.name] = src.media.stats(s.name) ?? {};
    // As /api/stats: a plugin's tap that throws is left out rather than failing the scrape.
    const full = gatherStats(src.hooks, report);
    const transports = new Set(src.listPlugins().flatMap((p) => p.transports.map((t) => t.protocol)));
    const captures = new Map<string, number>();
    for (const s of src.media.list()) {
      const st = (full[s.name] ?? {}) as StreamFigures;
      const l = { stream: s.name };
      m.streamInfo.set({ stream: s.name, path: s.path, codec: s.codec }, 1);
      m.up.set(l, st.running ? 1 : 0);
      setIf(m.clients, l, st.clientCount);
      setIf(m.bytes, l, st.totalBytesStreamed);
      setIf(m.bitrate, l, bytes(st.currentBitrate));
      setIf(m.target, l, bytes(st.targetBitrate));
      setIf(m.fps, l, st.fps);
      setIf(m.drops, l, st.frameDrops);
      setIf(m.keyframe, l, st.keyframeInterval);
      setIf(m.uptime, l, st.uptime);
      if (typeof st.errors === 'number') m.errors.inc(l, st.errors);
      if (typeof st.restarts === 'number') m.restarts.inc(l, st.restarts);
      if (typeof st.alignment?.latencyMs === 'number') m.latency.set(l, st.alignment.latencyMs / 1000);
      if (st.abr) {
        setIf(m.abrTarget, l, bytes(st.abr.target));
        m.abrEnabled.set(l, st.abr.enabled ? 1 : 0);
      }
      if (st.capture && typeof st.capture.restarts === 'number') captures.set(st.capture.id, st.capture.restarts);
      // Consumers are named "<transport> <address> <user>" (rtsp, webrtc, …); transports that run show 0.
      const per = new Map<string, { clients: number; bytes: number; drops: number }>([...transports].map((t) => [t, { clients: 0, bytes: 0, drops: 0 }]));
      for (const c of st.consumers ?? []) {
        const t = transportOf(c.name);
        const agg = per.get(t) ?? { clients: 0, bytes: 0, drops: 0 };
        agg.clients += 1;
        agg.bytes += c.bytesDelivered;
        agg.drops += c.framesDropped;
        per.set(t, agg);
      }
      for (const [transport, agg] of per) {
        m.tClients.set({ stream: s.name, transport }, agg.clients);
        m.tBytes.set({ stream: s.name, transport }, agg.bytes);
        m.tDrops.set({ stream: s.name, transport }, agg.drops);
      }
    }

    for (const [capture, restarts] of captures) m.captureRestarts.inc({ capture }, restarts);

    const procs: Array<[string, number]> = [['daemon', process.pid], ...(src.media.mediaPids?.() ?? []).map((pid): [string, number] => ['media', pid])];
    for (const [kind, pid] of procs) {
      const p = readProc(pid);
      if (!p) continue;
      m.cpu.inc({ process: kind, pid: String(pid) }, p.cpuSeconds);
      m.rss.set({ process: kind, pid: String(pid) }, p.rssBytes);
    }
  };

  return {
    registry,
    async scrape() {
      fill();
      return registry.metrics();
    },
  };
}

interface StreamFigures {
  running?: boolean;
  clientCount?: number;
  totalBytesStreamed?: number;
  currentBitrate?: number;
  targetBitrate?: number;
  fps?: number;
  frameDrops?: number;
  errors?: number;
  restarts?: number;
  keyframeInterval?: number | null;
  uptime?: number;
  consumers?: Array<{ name: string; bytesDelivered: number; framesDropped: number }>;
  alignment?: { latencyMs?: number | null };
  abr?: { enabled?: boolean; target?: number };
  capture?: { id: string; restarts?: number };
}

function setIf(g: Gauge, labels: Record<string, string>, v: unknown): void {
  if (typeof v === 'number' && Number.isFinite(v)) g.set(labels, v);
}

function bytes(bitsPerSecond: number | undefined): number | undefined {
  return typeof bitsPerSecond === 'number' ? bitsPerSecond / 8 : undefined;
}

/** The consumer name's first word, as a bounded label value. */
function transportOf(name: string): string {
  const word = name.split(' ')[0]!.toLowerCase();
  return /^[a-z][a-z0-9_-]{0,31}$/.test(word) ? word : 'other';
}

let clockTicks: number | undefined;

/** CPU seconds (utime + stime) and RSS of a process from /proc, or undefined when it is gone. */
export function readProc(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    clockTicks ??= ticksPerSecond();
    const cpuSeconds = (Number(f[11]) + Number(f[12])) / clockTicks; // utime (14), stime (15)
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuSeconds, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}

function ticksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
