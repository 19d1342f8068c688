import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { allows, type Caller, type Permission } from '../auth/permissions.js';
import { DIGEST_REALM, type UserStore } from '../auth/users.js';
import { digestCaller, digestChallenge, NonceManager, parseAuthorization } from '../auth/http-digest.js';
import { basicRefused } from './plain-http.js';

const CALLER = Symbol('camd.caller');
type WithCaller = FastifyRequest & { [CALLER]?: Caller };

/** Delay before answering a failed login, so that guessing passwords is slow. */
export const FAILED_LOGIN_DELAY_MS = 400;

/** Parses `Authorization: Basic …` and checks it; undefined when absent or wrong. */
export async function basicCaller(users: UserStore, header: string | undefined): Promise<Caller | undefined | 'invalid'> {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(header);
  if (!m) return 'invalid';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return 'invalid';
  const caller = await users.verify(decoded.slice(0, i), decoded.slice(i + 1));
  return caller ?? 'invalid';
}

export function callerOf(request: FastifyRequest): Caller | undefined {
  return (request as WithCaller)[CALLER];
}

/** Stateless signed nonces (no memory per client): one key per daemon process. */
const nonces = new NonceManager();

/**
 * The caller of `Authorization: Digest …` (RFC 7616 with MD5, as NVRs and ONVIF clients fetch snapshots),
 * bound to the request's own URI; `stale` when only the nonce has expired.
 */
function digestRequestCaller(users: UserStore, request: FastifyRequest): { caller?: Caller; stale: boolean } | undefined {
  const auth = parseAuthorization(request.headers.authorization);
  if (auth?.scheme !== 'digest') return undefined;
  if (auth.params.uri !== request.url) return { stale: false };
  return digestCaller(users, nonces, request.method, auth.params);
}

/** A preHandler that answers 401 (no or wrong credentials) or 403 (no permission). HTTP Basic or Digest. */
/** Marks camd's auth handlers, so the server runs them before the body is read (see server.ts). */
export const AUTH_HANDLER = Symbol.for('camd.authHandler');

export function requirePermission(users: UserStore, required: readonly Permission[]): preHandlerAsyncHookHandler {
  return Object.assign(
    async function camdAuth(request: FastifyRequest, reply: FastifyReply) {
      const digest = digestRequestCaller(users, request);
      // Plain HTTP with `auth.basicOverPlainHttp: false`: Basic is not even checked (the password has
      // crossed the network in clear already; checking it would tell the sender it is right).
      const httpsPort = basicRefused(request);
      const noBasic = httpsPort !== undefined;
      if (noBasic && !digest && /^Basic\s/i.test(request.headers.authorization ?? '')) {
        return reply
          .code(401)
          .header('WWW-Authenticate', digestChallenge(DIGEST_REALM, nonces.issue(), { qop: true }))
          .send({
            error: 'Unauthorized',
            code: 'CAMD_ERR_BASIC_OVER_PLAIN_HTTP',
            message: `HTTP Basic is refused over plain HTTP: use HTTPS (port ${httpsPort}) or HTTP Digest`,
          });
      }
      const result = digest ? (digest.caller ?? (digest.stale ? undefined : 'invalid')) : await basicCaller(users, request.headers.authorization);
      if (result === undefined || result === 'invalid') {
        if (result === 'invalid') {
          request.log.warn({ url: request.url, ip: request.ip }, 'authentication failed');
          await new Promise((r) => setTimeout(r, FAILED_LOGIN_DELAY_MS));
        }
        // Basic first: browsers and curl keep using it; Digest clients (NVRs, ffmpeg) find their challenge.
        return reply
          .code(401)
          .header('WWW-Authenticate', [
            ...(noBasic ? [] : ['Basic realm="camd", charset="UTF-8"']),
            digestChallenge(DIGEST_REALM, nonces.issue(), { qop: true, stale: digest?.stale }),
          ])
          .send({ error: 'Unauthorized', code: 'CAMD_ERR_AUTH_REQUIRED', message: 'valid credentials are required (HTTP Basic or Digest)' });
      }
      (request as WithCaller)[CALLER] = result;
      if (required.length > 0 && !allows(result, required)) {
        return reply
          .code(403)
          .send({ error: 'Forbidden', code: 'CAMD_ERR_AUTH_FORBIDDEN', message: `${result.username} lacks one of: ${required.join(', ')}` });
      }
    },
    { [AUTH_HANDLER]: true },
  );
}
