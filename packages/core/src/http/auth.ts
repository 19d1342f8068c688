import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { allows, type Caller, type Permission } from '../auth/permissions.js';
import { DIGEST_REALM, type UserStore } from '../auth/users.js';
import { digestChallenge, digestVerdict, NonceManager, parseAuthorization } from '../auth/http-digest.js';
import type { LoginOutcome, LoginRefusal } from '../auth/login-guard.js';
import { CoreErrors } from '../errors.js';
import { basicRefused } from './plain-http.js';

const CALLER = Symbol('camd.caller');
type WithCaller = FastifyRequest & { [CALLER]?: Caller };

export function callerOf(request: FastifyRequest): Caller | undefined {
  return (request as WithCaller)[CALLER];
}

/**
 * HTTP credentials of a request, through the daemon's brute-force guard: Basic (scrypt, through the
 * hashing queue) or Digest (RFC 7616 with MD5 and qop=auth, bound to the request's own URI, each `nc`
 * good once). No credentials at all is no attempt (undefined), nor Basic when `basic` is false
 * (ONVIF: Digest only). `nonces` are the issuer's (core's routes share one; ONVIF has its own).
 */
export async function httpLogin(
  users: UserStore,
  nonces: NonceManager,
  request: FastifyRequest,
  opts: { protocol?: string; basic?: boolean } = {},
): Promise<LoginOutcome | undefined> {
  const { protocol = 'http', basic = true } = opts;
  const auth = parseAuthorization(request.headers.authorization);
  if (!auth || (auth.scheme === 'basic' && !basic)) return undefined;
  const address = request.socket.remoteAddress;
  if (auth.scheme === 'basic') {
    // Identical headers in flight share one check (a browser's burst); the key is a digest, never the password.
    const sameAs = createHash('sha256').update(request.headers.authorization!).digest('base64');
    return users.guard.attempt({ address, username: auth.username, protocol, sameAs }, () => users.verify(auth.username, auth.password));
  }
  return users.guard.attempt({ address, username: auth.params.username!, protocol }, () =>
    digestVerdict(users, nonces, auth.params, { method: request.method, uriMatches: (uri) => uri === request.url }),
  );
}

/** 429 (locked out, or not yet: `CAMD_ERR_AUTH_LOCKED`/`_THROTTLED`) or 503 (`CAMD_ERR_AUTH_BUSY`), with `Retry-After`. */
export function refusalAnswer(refusal: LoginRefusal): { status: number; retryAfter: string; body: { error: string; code: string; message: string } } {
  const E = refusal.reason === 'locked' ? CoreErrors.AUTH_LOCKED : refusal.reason === 'throttled' ? CoreErrors.AUTH_THROTTLED : CoreErrors.AUTH_BUSY;
  const error = E.statusCode === 429 ? 'Too Many Requests' : 'Service Unavailable';
  return { status: E.statusCode, retryAfter: String(refusal.retryAfterS), body: { error, code: E.code, message: refusal.message } };
}

/** Stateless signed nonces, their uses remembered (bounded): one issuer for core's and plugins' routes. */
const nonces = new NonceManager();

/** Marks camd's auth handlers, so the server runs them before the body is read (see server.ts). */
export const AUTH_HANDLER = Symbol.for('camd.authHandler');

/**
 * A preHandler that answers 401 (no or wrong credentials), 403 (no permission), 429 (the address is
 * locked out or must wait) or 503 (too many password checks at once). HTTP Basic or Digest.
 */
export function requirePermission(users: UserStore, required: readonly Permission[]): preHandlerAsyncHookHandler {
  return Object.assign(
    async function camdAuth(request: FastifyRequest, reply: FastifyReply) {
      // Plain HTTP with `auth.basicOverPlainHttp: false`: Basic is not even checked (the password has
      // crossed the network in clear already; checking it would tell the sender it is right).
      const httpsPort = basicRefused(request);
      if (httpsPort !== undefined && /^Basic\s/i.test(request.headers.authorization ?? '')) {
        return reply
          .code(401)
          .header('WWW-Authenticate', digestChallenge(DIGEST_REALM, nonces.issue(), { qop: true }))
          .send({
            error: 'Unauthorized',
            code: 'CAMD_ERR_BASIC_OVER_PLAIN_HTTP',
            message: `HTTP Basic is refused over plain HTTP: use HTTPS (port ${httpsPort}) or HTTP Digest`,
          });
      }
      // A locked-out address hears so even without credentials: a browser shows why instead of a password prompt.
      const outcome = (await httpLogin(users, nonces, request)) ?? users.guard.lockedOut(request.socket.remoteAddress);
      if (outcome?.kind === 'refused') {
        const r = refusalAnswer(outcome);
        return reply.code(r.status).header('Retry-After', r.retryAfter).send(r.body);
      }
      if (outcome?.kind !== 'ok') {
        // Basic first: browsers and curl keep using it; Digest clients (NVRs, ffmpeg) find their challenge.
        return reply
          .code(401)
          .header('WWW-Authenticate', [
            ...(httpsPort === undefined ? ['Basic realm="camd", charset="UTF-8"'] : []),
            digestChallenge(DIGEST_REALM, nonces.issue(), { qop: true, stale: outcome?.kind === 'stale' }),
          ])
          .send({ error: 'Unauthorized', code: 'CAMD_ERR_AUTH_REQUIRED', message: 'valid credentials are required (HTTP Basic or Digest)' });
      }
      const caller = outcome.caller;
      (request as WithCaller)[CALLER] = caller;
      if (required.length > 0 && !allows(caller, required)) {
        return reply
          .code(403)
          .send({ error: 'Forbidden', code: 'CAMD_ERR_AUTH_FORBIDDEN', message: `${caller.username} lacks one of: ${required.join(', ')}` });
      }
    },
    { [AUTH_HANDLER]: true },
  );
}
