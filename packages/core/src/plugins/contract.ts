import type { DependencyContainer } from 'tsyringe';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { CamdHooks } from '../hooks.js';
import type { StateKeyDefinition } from '../state/types.js';
import type { PluginState, SettingsOf } from './context.js';
import type { StreamHub } from '../media/hub.js';
import type { ElementRegistry } from '../media/registry.js';
import type { UserStore } from '../auth/users.js';
import type { Caller, Permission } from '../auth/permissions.js';
import type { DerivedCodec, StreamSettings, VideoCodec } from '../media/types.js';
import type { StreamLimits } from '../media/bounds.js';
import type { TLSSocket } from 'node:tls';
import type { TlsLayer } from '../tls/layer.js';
import type { Admission, ConnectionGuard } from '../net/connection-guard.js';
import type { PlainHttp } from '../tls/config.js';

/**
 * The plugin API version. A plugin declares the version it was written against; the host refuses a
 * plugin whose version differs. It changes only when the contract below changes incompatibly, never
 * with core's release version.
 */
export const PLUGIN_API_VERSION = 2;

/** The JSON schema subset accepted for plugin options (validated with Ajv). */
export type JsonSchema = Record<string, unknown>;

/** State keys a plugin owns: a record named after the keys (typed `ctx.settings`), or a list. */
export type StateKeys = Record<string, StateKeyDefinition<any>>;

export interface PluginDefinition<O = Record<string, unknown>, K extends StateKeys = StateKeys> {
  /** Usually the npm package name, e.g. `@camd/plugin-rtsp`. */
  readonly name: string;
  /** Must equal `PLUGIN_API_VERSION` of the host. */
  readonly apiVersion: number;
  readonly description?: string;
  /** JSON schema of the options object this plugin accepts (config `plugins[].options`). */
  readonly optionsSchema?: JsonSchema;
  /**
   * State keys this plugin owns; registered before `setup` runs. As a record whose property names
   * are the keys, `ctx.settings` has a typed handle for each.
   */
  readonly stateKeys?: K | readonly StateKeyDefinition<any>[];
  /**
   * What the plugin may write beyond its own keys, as if it were a user with these permissions
   * (ABR writes `streamBitrate` with Media_rw). Without it, a plugin writes only its own keys.
   */
  readonly permissions?: readonly Permission[];
  /** Names of plugins that must be loaded (and set up) before this one. */
  readonly requires?: readonly string[];
  setup(ctx: PluginContext<O, K>): void | Promise<void>;
}

/** Identity function that types a plugin definition (options `O`, state keys `K` inferred). */
export function definePlugin<O = Record<string, unknown>, K extends StateKeys = StateKeys>(def: PluginDefinition<O, K>): PluginDefinition<O, K> {
  return def;
}

export interface RouteInfo {
  readonly method: string;
  readonly url: string;
}

/** A plugin's slice of the HTTP server: its own encapsulated fastify scope plus camd's auth. */
export interface HttpScope {
  /** Registers routes in the plugin's own scope (decorators do not leak between plugins). */
  register(fn: FastifyPluginAsync, opts?: { prefix?: string }): void;
  /** A preHandler that answers 401/403 unless the request's credentials hold one of `required`. */
  requirePermission(required: readonly Permission[]): preHandlerAsyncHookHandler;
  /** The authenticated caller of a request (after `requirePermission`), or undefined. */
  caller(request: FastifyRequest): Caller | undefined;
  /** The TCP port the daemon's HTTP server listens on (0 before it listens, e.g. during `setup`, and with `http.plain: "off"`). */
  readonly port: number;
  /** The HTTPS port (0 before it listens, or when HTTPS is off). */
  readonly tlsPort: number;
  /** What plain HTTP does while HTTPS is on: serves (`on`), redirects to HTTPS (`redirect`), is off. */
  readonly plain: PlainHttp;
  /** Routes this plugin registered (for `GET /api/plugins`). */
  readonly routes: readonly RouteInfo[];
}

/** Configured streams and their live settings. */
export interface StreamCatalog {
  /** Current settings of every configured stream, in config order (the first one is the primary). */
  list(): StreamSettings[];
  get(name: string): StreamSettings | undefined;
  /** The state key that holds `key` for this stream (`streamBitrate` or `stream2.streamBitrate`). */
  stateKey(stream: string, key: 'streamResolution' | 'streamFramerate' | 'streamBitrate' | 'videoEncoder' | 'encoderProfile' | 'encoderPreset'): string;
  /**
   * What the stream's `streamResolution` and `streamFramerate` accept now, for `codec` (default: its
   * own): sizes at its frame rate, rates at its size, within its source, its encoder's level and the
   * pixel budget. Exactly what a write of one of them accepts (ONVIF lists it as its options).
   */
  limits(stream: string, codec?: VideoCodec): StreamLimits;
  /** Restarts a stream's pipeline (e.g. ONVIF SystemReboot). Clients stay attached to the hub. */
  restart(name: string): Promise<void>;
  /** Live statistics of a stream. */
  stats(name: string): Record<string, unknown> | undefined;
  /**
   * Declares, during `setup`, that this plugin's pipelines also read the stream's source (PiP's inset
   * does): the source is then captured once and shared, so a camera device is not opened twice.
   */
  shareSource(name: string): void;
  /**
   * An extra encoding of the stream's pictures in `codec`, for clients that cannot decode the
   * stream's own (WebRTC peers without H.264). One encoder per stream and codec, whoever asks: it
   * starts with the first lease and stops `lingerMs` (default 30 s) after the last is released. It
   * reads the stream's finished pictures (after PiP and overlays), so it never disturbs the stream's
   * own encoder or readers. Its frames are on the hub under `lease.hubStream`. Throws
   * `CAMD_ERR_STREAM_UNKNOWN` for an unknown stream, `CAMD_ERR_GST_NO_ENCODER` when this machine has
   * no encoder for `codec` (see `derivedCodecs`).
   */
  acquireDerivedEncoding(stream: string, codec: DerivedCodec, opts?: { lingerMs?: number }): DerivedEncodingLease;
  /** The derived codecs this machine can encode (an encoder of the codec is installed: see `ElementRegistry.chooseDerivedEncoder`). */
  derivedCodecs(): DerivedCodec[];
  /** The stream's derived encodings running now: a client that takes one of them joins it rather than start another encoder. */
  runningDerivedCodecs(stream: string): DerivedCodec[];
}

/** A hold on a derived encoding (see `StreamCatalog.acquireDerivedEncoding`). */
export interface DerivedEncodingLease {
  readonly codec: DerivedCodec;
  /** The hub stream its frames are published on (subscribe, wait for parameters, request keyframes there). */
  readonly hubStream: string;
  /** Idempotent; the encoder stops once the last lease is released and the linger has passed. */
  release(): void;
}

/** TLS servers with the daemon's certificate (`ctx.tls`). */
export interface TlsScope {
  /**
   * A `tls.Server` with the daemon's certificate (a renewed certificate reaches new connections; open
   * ones keep theirs) in front of the plugin's plain server. Each raw TCP connection is admitted by
   * `guard` (the plain server's connection guard) as it opens, before its handshake, so per-address and
   * unauthenticated limits and deadlines count it like a plain one. Decrypted connections go to
   * `accept`, the plugin's plain-text entry point, with that admission: answer a refusal there, and
   * carry an admitted one onto the decrypted socket (`admission.conn.carry(socket)`) so that its drain
   * deadline watches the socket that holds its output. A handshake must finish within
   * `handshakeTimeoutMs` (10 s). The plugin listens and closes it.
   */
  createServer(
    accept: (socket: TLSSocket, admission: Admission) => void,
    opts: { name: string; guard: ConnectionGuard; log?: Logger; handshakeTimeoutMs?: number; maxConnections?: number },
  ): TlsLayer;
  /** SHA-256 fingerprint of the certificate (`AB:CD:…`). */
  readonly fingerprint: string;
  /** SHA-256 of its public key, base64 (`curl --pinnedpubkey sha256//…`). */
  readonly spkiPin: string;
}

export interface PluginContext<O = Record<string, unknown>, K extends StateKeys = StateKeys> {
  readonly name: string;
  readonly options: O;
  /** A child container of the host's: register this plugin's services here. */
  readonly container: DependencyContainer;
  /** The hooks; every tap made through them carries this plugin's name. */
  readonly hooks: CamdHooks;
  readonly logger: Logger;
  /** Every setting; writes are limited to the plugin's own keys and its declared `permissions`. */
  readonly state: PluginState;
  /** Typed handles on the plugin's own keys (`ctx.settings.pipEnabled.get()`, `.watch()`, `.set()`). */
  readonly settings: SettingsOf<K>;
  readonly hub: StreamHub;
  readonly streams: StreamCatalog;
  readonly users: UserStore;
  readonly registry: ElementRegistry;
  readonly http: HttpScope;
  /** TLS with the daemon's certificate; undefined when TLS is off (`http.tls: false` and no `rtsp.tls`). */
  readonly tls?: TlsScope;
  /** The daemon's config, deep-frozen and without secrets (users keep only names and permissions), e.g. for the `rtsp` block. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Runs when the daemon stops (reverse order of registration across plugins). */
  onClose(fn: () => void | Promise<void>): void;
  /**
   * Publishes a typed API for other plugins (e.g. ABR's policy hook): registered in the host's
   * container, so every plugin set up later resolves it with `ctx.container.resolve(token)`.
   */
  provide<T>(token: symbol, value: T): void;
}

/** tsyringe tokens under which the host registers its services in every container. */
export const TOKENS = Object.freeze({
  hooks: Symbol.for('camd.hooks'),
  state: Symbol.for('camd.state'),
  hub: Symbol.for('camd.hub'),
  streams: Symbol.for('camd.streams'),
  users: Symbol.for('camd.users'),
  registry: Symbol.for('camd.registry'),
  logger: Symbol.for('camd.logger'),
  config: Symbol.for('camd.config'),
});

export type { FastifyInstance, FastifyReply, FastifyRequest };
