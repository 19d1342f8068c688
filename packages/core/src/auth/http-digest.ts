import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Caller } from './permissions.js';
import { DIGEST_REALM, type UserStore } from './users.js';

/** Parsed `Authorization` header: Basic credentials, or Digest parameters. */
export type AuthorizationHeader = { scheme: 'basic'; username: string; password: string } | { scheme: 'digest'; params: Record<string, string> };

const MAX_HEADER = 4096;

/**
 * Parses an `Authorization` header (RFC 7617 Basic, RFC 2617 Digest). Returns undefined for anything
 * malformed, oversized or of another scheme; never throws (it reads hostile input).
 */
export function parseAuthorization(header: string | undefined): AuthorizationHeader | undefined {
  if (!header || header.length > MAX_HEADER) return undefined;
  const m = /^\s*(\w+)\s+(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+=*\s*$/.test(m[2]!)) return undefined;
    const decoded = Buffer.from(m[2]!.trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i <= 0) return undefined;
    return { scheme: 'basic', username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  if (scheme !== 'digest') return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;
  const body = m[2]!;
  let match: RegExpExecArray | null;
  while (re.lastIndex < body.length && (match = re.exec(body))) {
    const key = match[1]!.toLowerCase();
    if (key in params || Object.keys(params).length >= 16) return undefined;
    params[key] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!;
  }
  if (re.lastIndex < body.length && body.slice(re.lastIndex).trim() !== '') return undefined;
  for (const k of ['username', 'realm', 'nonce', 'uri', 'response']) if (!params[k]) return undefined;
  return { scheme: 'digest', params };
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Checks RFC 2617 Digest (MD5, with or without qop=auth) against the user's HA1. */
export function verifyDigest(params: Record<string, string>, method: string, ha1: string): boolean {
  if (params.algorithm && params.algorithm.toUpperCase() !== 'MD5') return false;
  const ha2 = md5(`${method}:${params.uri}`);
  let expected: string;
  if (params.qop) {
    if (params.qop !== 'auth' || !params.nc || !params.cnonce) return false;
    expected = md5(`${ha1}:${params.nonce}:${params.nc}:${params.cnonce}:auth:${ha2}`);
  } else {
    expected = md5(`${ha1}:${params.nonce}:${ha2}`);
  }
  const got = Buffer.from(params.response!.toLowerCase());
  const want = Buffer.from(expected);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Nonces whose use is remembered (the `nc` they were used with) at most; the oldest are forgotten first. */
export const MAX_TRACKED_NONCES = 4096;

/** How far below the highest `nc` seen a late request (a browser's parallel requests) may still come. */
const NC_WINDOW = 32;

interface NonceUse {
  issuedAt: number;
  /** Highest nc used, and a bit per value below it (bit i: max − i was used). */
  max: number;
  mask: number;
}

/**
 * Digest nonces: an issue time and random bytes, signed with a per-process key, optionally bound to a
 * scope (RTSP: the connection it was issued on). Checking one needs no memory; what is remembered is
 * its *use*, after a successful check only: the `nc` values of each nonce (RFC 7616 §3.4), so that a
 * captured `Authorization` header does not work twice. A client without `qop` sends no `nc`: its
 * nonce is good once (HTTP), or, bound to a connection, only on that connection (RTSP).
 *
 * The memory of uses is bounded (`MAX_TRACKED_NONCES`): when one is forgotten, every nonce issued as
 * early as it is answered `stale` from then on, so forgetting can never re-open a replay.
 */
export class NonceManager {
  private readonly key = randomBytes(32);
  private readonly used = new Map<string, NonceUse>();
  /** Nonces issued at or before this time and not in `used` are stale (see above). */
  private forgottenUpTo = 0;

  constructor(private readonly lifetimeMs = 5 * 60_000) {}

  issue(scope?: string, now = Date.now()): string {
    const body = `${now.toString(36)}.${randomBytes(8).toString('hex')}.${this.scopeTag(scope)}`;
    return `${body}.${this.sign(body)}`;
  }

  /**
   * `invalid`: not ours. `stale`: ours, but too old, forgotten, or issued for another scope (the
   * client retries with the fresh nonce of the next challenge, without asking its user).
   */
  check(nonce: string, scope?: string, now = Date.now()): 'ok' | 'stale' | 'invalid' {
    const parts = nonce.split('.');
    if (parts.length !== 4 || nonce.length > 128) return 'invalid';
    const body = parts.slice(0, 3).join('.');
    const sig = Buffer.from(parts[3]!);
    const want = Buffer.from(this.sign(body));
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return 'invalid';
    const at = parseInt(parts[0]!, 36);
    if (now - at > this.lifetimeMs || at > now + 60_000 || parts[2] !== this.scopeTag(scope)) return 'stale';
    if (at <= this.forgottenUpTo && !this.used.has(nonce)) return 'stale';
    return 'ok';
  }

  /**
   * Records a use of a nonce that checked `ok` with a response that verified; false when it is a
   * replay: an `nc` already used (or too far below the highest), or a second use without `nc` of an
   * unscoped nonce.
   */
  use(nonce: string, nc: string | undefined, scoped: boolean, now = Date.now()): boolean {
    let n: number;
    if (nc === undefined) {
      if (scoped) return true;
      n = 1;
    } else {
      if (!/^[0-9a-fA-F]{1,8}$/.test(nc)) return false;
      n = parseInt(nc, 16);
      if (n === 0) return false;
    }
    const u = this.used.get(nonce);
    if (!u) {
      this.remember(nonce, { issuedAt: parseInt(nonce.split('.')[0]!, 36), max: n, mask: 1 }, now);
      return true;
    }
    if (nc === undefined) return false;
    if (n > u.max) {
      const shift = n - u.max;
      u.mask = shift >= NC_WINDOW ? 1 : ((u.mask << shift) | 1) >>> 0;
      u.max = n;
      return true;
    }
    const i = u.max - n;
    if (i >= NC_WINDOW || (u.mask >>> i) & 1) return false;
    u.mask = (u.mask | (1 << i)) >>> 0;
    return true;
  }

  private remember(nonce: string, use: NonceUse, now: number): void {
    // Expired ones first (they are stale anyway), then the oldest remembered, raising the floor.
    for (const [k, v] of this.used) {
      if (now - v.issuedAt <= this.lifetimeMs) break;
      this.used.delete(k);
    }
    if (this.used.size >= MAX_TRACKED_NONCES) {
      const [k, v] = this.used.entries().next().value as [string, NonceUse];
      this.used.delete(k);
      this.forgottenUpTo = Math.max(this.forgottenUpTo, v.issuedAt);
    }
    this.used.set(nonce, use);
  }

  private scopeTag(scope: string | undefined): string {
    return scope === undefined ? '-' : this.sign(`scope:${scope}`).slice(0, 8);
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url').slice(0, 22);
  }
}

/** The value of a `WWW-Authenticate: Digest …` challenge. */
export function digestChallenge(realm: string, nonce: string, opts: { stale?: boolean; opaque?: string; qop?: boolean } = {}): string {
  let v = `Digest realm="${realm}", nonce="${nonce}", algorithm=MD5`;
  if (opts.qop) v += ', qop="auth"';
  if (opts.opaque) v += `, opaque="${opts.opaque}"`;
  if (opts.stale) v += ', stale=TRUE';
  return v;
}

/** An HA1 no password gives: an unknown user's response is computed and compared as a known one's. */
const NOBODY_HA1 = createHash('md5').update(randomBytes(16)).digest('hex');

/** What a Digest response is checked against besides the password. */
export interface DigestBinding {
  /** The request's method (part of the response). */
  method: string;
  /** Whether the `uri` the client signed names what it asks for. */
  uriMatches(uri: string): boolean;
  /** RTSP: the connection id its nonces are bound to; HTTP: none. */
  scope?: string;
}

/**
 * Checks Digest credentials against the daemon's users (RTSP and HTTP share this): the caller when the
 * nonce is ours, fresh and of this scope, the realm is camd's, the `uri` is the request's, the
 * response matches and this `nc` was not used before; `stale` when the response is right but the
 * nonce expired, belongs to another connection, or was used already (the client retries at once with
 * the fresh nonce of the challenge, which a replayed header cannot do); undefined when it is wrong.
 * An unknown user costs the same work as a known one. Run it through `users.guard.attempt`.
 */
export function digestVerdict(users: UserStore, nonces: NonceManager, params: Record<string, string>, binding: DigestBinding): Caller | 'stale' | undefined {
  const nonce = nonces.check(params.nonce!, binding.scope);
  const ha1 = users.ha1(params.username!);
  const right = verifyDigest(params, binding.method, ha1 ?? NOBODY_HA1);
  if (!right || !ha1 || nonce === 'invalid' || params.realm !== DIGEST_REALM || !binding.uriMatches(params.uri!)) return undefined;
  if (nonce === 'stale' || !nonces.use(params.nonce!, params.qop ? params.nc : undefined, binding.scope !== undefined)) return 'stale';
  return users.caller(params.username!);
}
