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

/**
 * Stateless nonces: a timestamp and random bytes signed with a per-process key. Nothing is stored
 * per client, so a flood of challenges costs no memory; an old nonce is answered `stale`.
 */
export class NonceManager {
  private readonly key = randomBytes(32);

  constructor(private readonly lifetimeMs = 5 * 60_000) {}

  issue(now = Date.now()): string {
    const body = `${now.toString(36)}.${randomBytes(8).toString('hex')}`;
    return `${body}.${this.sign(body)}`;
  }

  check(nonce: string, now = Date.now()): 'ok' | 'stale' | 'invalid' {
    const parts = nonce.split('.');
    if (parts.length !== 3 || nonce.length > 128) return 'invalid';
    const body = `${parts[0]}.${parts[1]}`;
    const sig = Buffer.from(parts[2]!);
    const want = Buffer.from(this.sign(body));
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return 'invalid';
    const at = parseInt(parts[0]!, 36);
    return now - at > this.lifetimeMs || at > now + 60_000 ? 'stale' : 'ok';
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

/**
 * Checks Digest credentials against the daemon's users (RTSP and HTTP share this): the caller when the
 * nonce is ours and fresh, the realm is camd's and the response matches; `stale` when only the nonce
 * has expired (the client retries without asking the user again).
 */
export function digestCaller(users: UserStore, nonces: NonceManager, method: string, params: Record<string, string>): { caller?: Caller; stale: boolean } {
  const nonce = nonces.check(params.nonce!);
  const ha1 = users.ha1(params.username!);
  if (nonce === 'invalid' || params.realm !== DIGEST_REALM || !ha1 || !verifyDigest(params, method, ha1)) return { stale: false };
  if (nonce === 'stale') return { stale: true };
  return { caller: users.caller(params.username!), stale: false };
}
