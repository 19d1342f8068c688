import { format } from 'node:util';

/**
 * Every error camd raises on purpose has a code (`CAMD_ERR_…`), so logs, API replies and tests can
 * match on it, an HTTP status for the API answer, and it names the plugin and hook involved when
 * there is one. Codes are declared in one list per package with `createError` (as fastify's
 * `FST_ERR_…`): core's is `CoreErrors` below, a plugin keeps its own (e.g. plugin-webrtc's
 * `WebRtcErrors`). The HTTP error handler answers any of them `{ error, code, message }` with its status.
 */

/** `CAMD_ERR_` then upper-case words joined by `_`; checked by `createError`. */
export type CamdErrorCode = `CAMD_ERR_${string}`;
export const ERROR_CODE_PATTERN = /^CAMD_ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*$/;

export interface CamdErrorOptions {
  plugin?: string;
  hook?: string;
  details?: unknown;
  cause?: unknown;
}

/** Set by `createError` classes; not part of the options a caller passes. */
const STATUS = Symbol('camd.error.status');
/** Recognises camd errors from another copy of @camd/core (a plugin that bundles its own). */
const BRAND = Symbol.for('camd.error');

/** Statuses of core's codes, for `new CamdError(ErrorCodes.X, …)` (filled from `CoreErrors`). */
const CORE_STATUS = new Map<string, number>();

/**
 * The base of every coded camd error, core's and plugins'. Core code keeps throwing
 * `new CamdError(ErrorCodes.X, message)` (the status comes from `CoreErrors`); plugins declare their
 * codes with `createError` and throw `new MyErrors.X(…)`, instances of this class too.
 */
export class CamdError extends Error {
  readonly code: CamdErrorCode;
  /** HTTP status of the API answer (400–599). */
  readonly statusCode: number;
  readonly plugin?: string;
  readonly hook?: string;
  readonly details?: unknown;

  constructor(code: CamdErrorCode, message: string, opts: CamdErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CamdError';
    this.code = code;
    this.statusCode = (opts as { [STATUS]?: number })[STATUS] ?? CORE_STATUS.get(code) ?? 500;
    this.plugin = opts.plugin;
    this.hook = opts.hook;
    this.details = opts.details;
  }
}
Object.defineProperty(CamdError.prototype, BRAND, { value: true });

/** The placeholders of `util.format` that take an argument (`%%` is a literal percent sign). */
const PLACEHOLDER = /%[sdifjoOc%]/g;

/** The arguments a message template takes: one per `%s`, `%d`, `%i`, `%f`, `%j`, `%o`, `%O`, `%c`. */
export type MessageArgs<M extends string> = string extends M
  ? unknown[]
  : M extends `${string}%${infer T}`
    ? T extends `%${infer R}`
      ? MessageArgs<R>
      : T extends `${'s' | 'd' | 'i' | 'f' | 'j' | 'o' | 'O' | 'c'}${infer R}`
        ? [unknown, ...MessageArgs<R>]
        : MessageArgs<T>
    : [];

/** What `createError` returns: a class of `CamdError`s with one code and status. */
export interface CamdErrorClass<C extends CamdErrorCode = CamdErrorCode, A extends unknown[] = unknown[]> {
  new (...args: A): CamdError & { readonly code: C };
  /** The template's arguments, then optionally `{ cause, details, plugin, hook }`. */
  new (...args: [...A, CamdErrorOptions]): CamdError & { readonly code: C };
  readonly prototype: CamdError;
  readonly code: C;
  readonly statusCode: number;
  /** The message template. */
  readonly template: string;
}

/**
 * Declares an error code, fastify-style: returns a class whose instances carry `code`, the HTTP
 * `statusCode` (default 500) and `message`, formatted from the template with `util.format`
 * placeholders (`%s`, `%d`, `%j`…) and the constructor's arguments; an object after them is
 * `{ cause, details, plugin, hook }`. The HTTP error handler answers `{ error, code, message }` with
 * that status.
 *
 * ```ts
 * export const MyErrors = { NO_SITE: createError('CAMD_ERR_MYPLUGIN_NO_SITE', 'no site "%s"', 404) };
 * throw new MyErrors.NO_SITE(name);
 * ```
 */
export function createError<C extends CamdErrorCode, M extends string>(code: C, message: M, statusCode = 500): CamdErrorClass<C, MessageArgs<M>> {
  if (typeof code !== 'string' || !ERROR_CODE_PATTERN.test(code))
    throw new TypeError(`createError: code ${JSON.stringify(code)} does not match ${ERROR_CODE_PATTERN}`);
  if (typeof message !== 'string' || message.length === 0) throw new TypeError(`createError(${code}): the message must be a non-empty string`);
  if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599)
    throw new TypeError(`createError(${code}): statusCode must be an HTTP error status (400–599), got ${statusCode}`);
  const arity = (message.match(PLACEHOLDER) ?? []).filter((p) => p !== '%%').length;
  const Coded = class extends CamdError {
    static readonly code = code;
    static readonly statusCode = statusCode;
    static readonly template = message;
    constructor(...args: unknown[]) {
      const extra = args[arity];
      const opts = args.length > arity && typeof extra === 'object' && extra !== null ? (extra as CamdErrorOptions) : {};
      super(code, arity === 0 ? message.replace(/%%/g, '%') : format(message, ...args.slice(0, arity)), { ...opts, [STATUS]: statusCode } as CamdErrorOptions);
    }
  };
  Object.defineProperty(Coded, 'name', { value: code });
  return Coded as unknown as CamdErrorClass<C, MessageArgs<M>>;
}

/** True for any camd error (of this or another copy of @camd/core), and of `code` when given. */
export function isCamdError(err: unknown, code?: CamdErrorCode): err is CamdError {
  const coded = err instanceof CamdError || (typeof err === 'object' && err !== null && (err as { [BRAND]?: unknown })[BRAND] === true);
  return coded && (code === undefined || (err as CamdError).code === code);
}

/**
 * Core's codes. Core's throw sites write the whole message (`new CamdError(ErrorCodes.X, message)`
 * or `new CoreErrors.X(message)`); the status is the HTTP answer when one reaches a route.
 */
export const CoreErrors = {
  CONFIG: createError('CAMD_ERR_CONFIG', '%s'),
  PLUGIN_NOT_FOUND: createError('CAMD_ERR_PLUGIN_NOT_FOUND', '%s'),
  PLUGIN_INVALID: createError('CAMD_ERR_PLUGIN_INVALID', '%s'),
  PLUGIN_API_VERSION: createError('CAMD_ERR_PLUGIN_API_VERSION', '%s'),
  PLUGIN_OPTIONS: createError('CAMD_ERR_PLUGIN_OPTIONS', '%s'),
  PLUGIN_SETUP: createError('CAMD_ERR_PLUGIN_SETUP', '%s'),
  PLUGIN_DUPLICATE: createError('CAMD_ERR_PLUGIN_DUPLICATE', '%s'),
  HOOK_FAILED: createError('CAMD_ERR_HOOK_FAILED', '%s'),
  HOOK_TIMEOUT: createError('CAMD_ERR_HOOK_TIMEOUT', '%s'),
  STATE_UNKNOWN_KEY: createError('CAMD_ERR_STATE_UNKNOWN_KEY', '%s', 404),
  STATE_DUPLICATE_KEY: createError('CAMD_ERR_STATE_DUPLICATE_KEY', '%s'),
  STATE_INVALID: createError('CAMD_ERR_STATE_INVALID', '%s', 400),
  STATE_FORBIDDEN: createError('CAMD_ERR_STATE_FORBIDDEN', '%s', 403),
  STATE_PERSIST: createError('CAMD_ERR_STATE_PERSIST', '%s'),
  AUTH_REQUIRED: createError('CAMD_ERR_AUTH_REQUIRED', '%s', 401),
  AUTH_FORBIDDEN: createError('CAMD_ERR_AUTH_FORBIDDEN', '%s', 403),
  /** The source address is locked out after too many failed logins (`Retry-After` says until when). */
  AUTH_LOCKED: createError('CAMD_ERR_AUTH_LOCKED', '%s', 429),
  /** A login from this source is not checked yet: its failures make it wait (`Retry-After`). */
  AUTH_THROTTLED: createError('CAMD_ERR_AUTH_THROTTLED', '%s', 429),
  /** Too many password checks run and wait already: refused at once, nothing hashed. */
  AUTH_BUSY: createError('CAMD_ERR_AUTH_BUSY', '%s', 503),
  /** `DELETE /api/auth/lockouts/:address` of an address with no lockout. */
  AUTH_NO_LOCKOUT: createError('CAMD_ERR_AUTH_NO_LOCKOUT', 'no lockout or failed logins recorded for %s', 404),
  USER_EXISTS: createError('CAMD_ERR_USER_EXISTS', '%s', 409),
  USER_UNKNOWN: createError('CAMD_ERR_USER_UNKNOWN', '%s', 404),
  GST_ELEMENT_MISSING: createError('CAMD_ERR_GST_ELEMENT_MISSING', '%s'),
  GST_NO_ENCODER: createError('CAMD_ERR_GST_NO_ENCODER', '%s'),
  PIPELINE_FAILED: createError('CAMD_ERR_PIPELINE_FAILED', '%s'),
  STREAM_UNKNOWN: createError('CAMD_ERR_STREAM_UNKNOWN', '%s', 404),
  /** A stream has no picture to give yet (`GET /api/streams/:name/snapshot.jpg`). */
  SNAPSHOT: createError('CAMD_ERR_SNAPSHOT', 'no picture from "%s" yet: %s', 503),
  /** The stream is not in the codec a route serves (`GET /api/streams/:name/mjpeg` of an H.264 stream). */
  STREAM_CODEC: createError('CAMD_ERR_STREAM_CODEC', '%s', 409),
  /** A TLS certificate or key that cannot be used (unreadable, not PEM, not a pair, expired); the message names the file. */
  TLS_CERTIFICATE: createError('CAMD_ERR_TLS_CERTIFICATE', '%s'),
  /** A connection past a limit of its address, or of unauthenticated connections (429, or 503 when the limit is everyone's). */
  TOO_MANY_CONNECTIONS: createError('CAMD_ERR_TOO_MANY_CONNECTIONS', '%s', 429),
  /** A user (or everyone) holds as many clients of a kind as allowed (event streams, MJPEG clients). */
  CLIENT_LIMIT: createError('CAMD_ERR_CLIENT_LIMIT', '%s', 429),
  /** No route for the method and URL. */
  NOT_FOUND: createError('CAMD_ERR_NOT_FOUND', 'no route %s %s', 404),
  /** A request fastify refused without a code of its own. */
  BAD_REQUEST: createError('CAMD_ERR_BAD_REQUEST', 'bad request', 400),
  /** A Host header that is no host name (`Host: x"/><inj>`): refused before any route builds a URL from it. */
  BAD_HOST: createError('CAMD_ERR_BAD_HOST', '%s', 400),
  /** Anything unexpected: the details go to the daemon log, never to the client. */
  INTERNAL: createError('CAMD_ERR_INTERNAL', 'internal error (see the daemon log)', 500),
} as const;

for (const E of Object.values(CoreErrors)) CORE_STATUS.set(E.code, E.statusCode);

/** Core's codes by name (`ErrorCodes.STATE_INVALID === 'CAMD_ERR_STATE_INVALID'`). */
export const ErrorCodes = Object.freeze(Object.fromEntries(Object.entries(CoreErrors).map(([k, E]) => [k, E.code]))) as {
  readonly [K in keyof typeof CoreErrors]: (typeof CoreErrors)[K]['code'];
};

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
