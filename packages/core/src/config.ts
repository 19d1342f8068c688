import { existsSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { CamdError, ErrorCodes } from './errors.js';
import type { UserConfig } from './auth/users.js';
import type { LoginGuardOptions } from './auth/login-guard.js';
import { tlsSchema, tlsSettings, type HttpTlsConfig, type PlainHttp } from './tls/config.js';
import type { ConnectionLimits } from './net/connection-guard.js';
import type { SourceSpec, StreamSettings, VideoCodec, EncoderProfile, EncoderPreset } from './media/types.js';

/** How pipelines map onto media processes (see `CamdConfig.media`). */
export type MediaIsolation = 'shared' | 'pipeline';

export interface StreamConfig {
  name?: string;
  path: string;
  resolution: string;
  fps: number;
  bitrate: number;
  profile?: EncoderProfile;
  codec?: VideoCodec;
  preset?: EncoderPreset;
  /** Keyframe interval in frames (default: one per second). */
  gop?: number;
  /** A device path (`/dev/video0`), `videotestsrc`, `videotestsrc:<pattern>`, or `{ device }` / `{ pattern }`. Default: /dev/video0 when present, else a test pattern. */
  source?: string | { device: string } | { pattern: string };
  /**
   * An encoder element for this stream's codec (`vah264enc`, `x264enc`): used instead of the automatic
   * choice (hardware first, after a one-frame trial encode at start). See `camd probe`.
   */
  encoder?: string;
  /** `false` re-encodes a camera's own H.264/H.265 even when it could be passed through as it is (default true). */
  passthrough?: boolean;
}

export interface PluginEntry {
  name: string;
  options?: Record<string, unknown>;
  /** The daemon refuses to start when a required plugin fails its setup (default false). */
  required?: boolean;
  /** Skip the plugin (with a log line) when its package is not installed, instead of refusing to start. */
  optional?: boolean;
}

/** Limits of the HTTP server (`http.limits` in the config); see `HTTP_LIMITS` for the defaults. */
export interface HttpLimits extends ConnectionLimits {
  /** Open connections at most; Node drops more before any of camd's code runs. */
  maxConnections: number;
  /** `GET /api/events` streams one user may hold, and everyone. */
  maxEventStreamsPerUser: number;
  maxEventStreams: number;
  /** `GET /api/streams/:name/mjpeg` clients one user may hold, and everyone. */
  maxMjpegClientsPerUser: number;
  maxMjpegClients: number;
}

/**
 * Far above what legitimate clients use (a room of dashboards and an NVR behind one NAT address,
 * browsers opening six connections each), far below what one address needs to lock others out.
 */
export const HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxConnections: 1024,
  maxConnectionsPerAddress: 128,
  maxUnauthenticated: 512,
  maxUnauthenticatedPerAddress: 64,
  unauthenticatedTimeoutMs: 10_000,
  // A 1.5 MiB page asset (the API docs) takes 12 s at 1 Mbit/s: a slow link is not a stalled peer.
  drainTimeoutMs: 30_000,
  maxEventStreamsPerUser: 32,
  maxEventStreams: 256,
  maxMjpegClientsPerUser: 16,
  maxMjpegClients: 64,
});

export interface CamdConfig {
  /** `tls`: HTTPS (default on, port 8443, generated certificate; false: off); `plain`: what plain HTTP does (see tls/config.ts). */
  http?: { port?: number; host?: string; tls?: HttpTlsConfig | false; plain?: PlainHttp; limits?: Partial<HttpLimits> };
  users?: UserConfig[];
  plugins?: Array<string | PluginEntry>;
  rtsp?: { enabled?: boolean; port?: number; streams?: StreamConfig[]; tls?: { port?: number } | false };
  streams?: StreamConfig[];
  log?: { level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /**
   * `isolation`: `shared` (default) runs every pipeline in one media process; `pipeline` gives each
   * stream and shared capture a process of its own (a crash then takes only that one along, at the
   * cost of a Node.js runtime, ≈ 40 MiB, per pipeline).
   * `maxPixelRate`: pixels a second all streams may encode together (width × height × fps, summed);
   * a setting beyond it is refused. Default 200 000 000 (see README, "Settings bounded by the machine").
   */
  media?: { isolation?: MediaIsolation; maxPixelRate?: number };
  /**
   * `GET /metrics` (Prometheus) needs Basic/Digest credentials of a user with Media_r, or
   * `Authorization: Bearer <bearerToken>` (Prometheus' `authorization: { credentials }`); `public: true`
   * opens it to anyone. `auth` is the key of earlier releases: `auth: false` still opens it (deprecated).
   */
  metrics?: { public?: boolean; bearerToken?: string; auth?: boolean };
  /**
   * Brute-force protection of every login (HTTP, RTSP, ONVIF) and the password hashing queue (see
   * LoginGuard); `basicOverPlainHttp`: false refuses HTTP Basic on plain HTTP (default true).
   */
  auth?: Partial<LoginGuardOptions> & { basicOverPlainHttp?: boolean };
  [other: string]: unknown;
}

const streamSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'resolution', 'fps', 'bitrate'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    path: { type: 'string', pattern: '^/[A-Za-z0-9_./-]{1,255}$' },
    resolution: { type: 'string', pattern: '^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$' },
    fps: { type: 'integer', minimum: 1, maximum: 240 },
    bitrate: { type: 'integer', minimum: 64000, maximum: 50000000 },
    profile: { enum: ['baseline', 'main', 'high'] },
    codec: { enum: ['h264', 'h265', 'mjpeg'] },
    preset: { enum: ['ultrafast', 'fast', 'medium', 'slow'] },
    gop: { type: 'integer', minimum: 1, maximum: 1000 },
    encoder: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    passthrough: { type: 'boolean' },
    source: {
      anyOf: [
        { type: 'string', minLength: 1, maxLength: 255 },
        { type: 'object', additionalProperties: false, required: ['device'], properties: { device: { type: 'string', minLength: 1 } } },
        { type: 'object', additionalProperties: false, required: ['pattern'], properties: { pattern: { type: 'string', minLength: 1 } } },
      ],
    },
  },
} as const;

/** JSON schema of the daemon's config file. Unknown top-level blocks are allowed for plugins. */
export const configSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    http: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        host: { type: 'string' },
        tls: tlsSchema.httpTls,
        plain: tlsSchema.plain,
        limits: {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(
            Object.keys(HTTP_LIMITS).map((k) => [k, { type: 'integer', minimum: k.endsWith('Ms') ? 100 : 1, maximum: k.endsWith('Ms') ? 3_600_000 : 100_000 }]),
          ),
        },
      },
    },
    users: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['username', 'permissions'],
        properties: {
          username: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,64}$' },
          password: { type: 'string', minLength: 1, maxLength: 256 },
          passwordHash: { type: 'string', pattern: '^scrypt\\$' },
          permissions: { type: 'array', items: { enum: ['Media_r', 'Media_rw', 'Admin'] } },
        },
      },
    },
    plugins: {
      type: 'array',
      items: {
        anyOf: [
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            additionalProperties: false,
            required: ['name'],
            properties: { name: { type: 'string', minLength: 1 }, options: { type: 'object' }, required: { type: 'boolean' }, optional: { type: 'boolean' } },
          },
        ],
      },
    },
    rtsp: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        streams: { type: 'array', minItems: 1, items: streamSchema },
        tls: tlsSchema.rtspTls,
      },
    },
    streams: { type: 'array', minItems: 1, items: streamSchema },
    log: { type: 'object', additionalProperties: false, properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } } },
    media: {
      type: 'object',
      additionalProperties: false,
      properties: { isolation: { enum: ['shared', 'pipeline'] }, maxPixelRate: { type: 'integer', minimum: 1_000_000, maximum: 100_000_000_000 } },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        public: { type: 'boolean' },
        // Visible ASCII, as Prometheus sends it after `Bearer `; long enough that guessing is hopeless.
        bearerToken: { type: 'string', minLength: 16, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' },
        auth: { type: 'boolean' },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxFailures: { type: 'integer', minimum: 1, maximum: 1000 },
        failureWindowMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 },
        lockoutMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 },
        backoffAfter: { type: 'integer', minimum: 0, maximum: 1000 },
        backoffInitialMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        backoffMaxMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        hashConcurrency: { type: 'integer', minimum: 1, maximum: 4 },
        hashQueue: { type: 'integer', minimum: 0, maximum: 1000 },
        basicOverPlainHttp: tlsSchema.basicOverPlainHttp,
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const validateConfig = ajv.compile(configSchema);

function describeError(e: ErrorObject): string {
  const path = 'config' + e.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
  if (e.keyword === 'additionalProperties') return `${path}.${(e.params as { additionalProperty: string }).additionalProperty}: unknown field`;
  if (e.keyword === 'required') return `${path}.${(e.params as { missingProperty: string }).missingProperty}: is required`;
  if (e.keyword === 'enum') return `${path}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${path}: ${e.message}`;
}

const RESERVED_STREAM_NAMES = new Set(['auth', 'errors']);

/** Validates a parsed config document; throws CamdError CONFIG with a one-line message naming the field. */
export function parseConfig(doc: unknown): CamdConfig {
  if (!validateConfig(doc)) {
    const err = validateConfig.errors![0]!;
    throw new CamdError(ErrorCodes.CONFIG, describeError(err), { details: validateConfig.errors });
  }
  const cfg = doc as CamdConfig;
  tlsSettings(cfg);
  const m = cfg.metrics;
  if (m?.public === true && (m.auth === true || m.bearerToken !== undefined))
    throw new CamdError(ErrorCodes.CONFIG, `config.metrics: public: true needs no ${m.auth === true ? 'auth' : 'bearerToken'}: choose one`);
  if (m?.public === false && m.auth === false) throw new CamdError(ErrorCodes.CONFIG, 'config.metrics: public: false and auth: false contradict each other');
  const streams = configuredStreams(cfg);
  const names = new Set<string>();
  const paths = new Set<string>();
  for (const s of streams) {
    if (names.has(s.name)) throw new CamdError(ErrorCodes.CONFIG, `config streams: two streams are named "${s.name}"`);
    // `GET /api/stats` keeps these top-level keys next to the streams' names.
    if (RESERVED_STREAM_NAMES.has(s.name))
      throw new CamdError(ErrorCodes.CONFIG, `config streams: "${s.name}" is reserved; give the stream another name or path`);
    if (paths.has(s.path)) throw new CamdError(ErrorCodes.CONFIG, `config streams: two streams use the path "${s.path}"`);
    names.add(s.name);
    paths.add(s.path);
    if (s.width % 2 || s.height % 2) throw new CamdError(ErrorCodes.CONFIG, `config streams "${s.name}".resolution: width and height must be even`);
  }
  return cfg;
}

/** The default streams: /stream1 1080p60 H.264 high 8 Mbit/s, /stream2 720p30 main 4 Mbit/s. */
export const DEFAULT_STREAMS: StreamConfig[] = [
  { path: '/stream1', resolution: '1920x1080', fps: 60, bitrate: 8_000_000, profile: 'high' },
  { path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'main' },
];

function resolveSource(src: StreamConfig['source'], index: number): SourceSpec {
  const fallbackPattern = index === 0 ? 'smpte' : 'ball';
  // Without a source, every stream shows the camera (/dev/video0, one capture shared by all of them),
  // or a test pattern of its own when there is no camera.
  if (src === undefined) return existsSync('/dev/video0') ? { kind: 'device', device: '/dev/video0' } : { kind: 'test', pattern: fallbackPattern };
  if (typeof src === 'object') return 'device' in src ? { kind: 'device', device: src.device } : { kind: 'test', pattern: src.pattern };
  if (src === 'videotestsrc') return { kind: 'test', pattern: fallbackPattern };
  if (src.startsWith('videotestsrc:')) return { kind: 'test', pattern: src.slice('videotestsrc:'.length) };
  return { kind: 'device', device: src };
}

/** Streams from `streams` or `rtsp.streams`, else the default streams (`DEFAULT_STREAMS`), as StreamSettings. */
export function configuredStreams(cfg: CamdConfig): StreamSettings[] {
  const list = cfg.streams ?? cfg.rtsp?.streams ?? DEFAULT_STREAMS;
  return list.map((s, i) => {
    const [w, h] = s.resolution.split('x').map(Number) as [number, number];
    const name = s.name ?? (s.path.replace(/^\/+/, '').replace(/[^A-Za-z0-9_-]/g, '_') || `stream${i + 1}`);
    return {
      name,
      path: s.path,
      source: resolveSource(s.source, i),
      width: w,
      height: h,
      fps: s.fps,
      bitrate: s.bitrate,
      codec: s.codec ?? 'h264',
      profile: s.profile ?? 'high',
      preset: s.preset ?? 'fast',
      gop: s.gop ?? s.fps,
      ...(s.encoder ? { encoder: s.encoder } : {}),
      ...(s.passthrough === false ? { passthrough: false } : {}),
    };
  });
}

/** `http.limits` of the config over the defaults. */
export function httpLimits(cfg: CamdConfig): HttpLimits {
  return { ...HTTP_LIMITS, ...cfg.http?.limits };
}

export function pluginEntries(cfg: CamdConfig): PluginEntry[] {
  return (cfg.plugins ?? []).map((p) => (typeof p === 'string' ? { name: p } : p));
}
