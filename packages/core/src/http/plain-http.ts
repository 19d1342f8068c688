import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PlainHttp } from '../tls/config.js';

const BASIC_REFUSED = Symbol.for('camd.basicRefused');

/** True when the request came over TLS (HTTPS), false on plain HTTP. */
export function isEncrypted(request: FastifyRequest): boolean {
  return (request.raw.socket as Partial<TLSSocket>).encrypted === true;
}

/** The HTTPS port when camd's auth must refuse HTTP Basic on this request (plain HTTP with `auth.basicOverPlainHttp: false`). */
export function basicRefused(request: FastifyRequest): number | undefined {
  return (request as unknown as Record<symbol, number | undefined>)[BASIC_REFUSED];
}

/** A Host header's host part, without port (`[::1]` kept bracketed); undefined when it is not a host. */
export function hostOf(header: string | undefined): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(?::\d{1,5})?$/.exec(header ?? '');
  return m?.[1];
}

/**
 * What happens to requests on plain HTTP while HTTPS is on, before any route (and its auth) runs:
 * `redirect` answers 308 to the same path on HTTPS (308 keeps the method and body, so a POST is sent
 * again there); with `basicOverPlainHttp` false, Basic credentials are marked to be refused.
 */
export function installPlainHttpPolicy(app: FastifyInstance, o: { plain: PlainHttp; basicOverPlainHttp: boolean; httpsPort: () => number }): void {
  if (o.plain === 'on' && o.basicOverPlainHttp) return;
  app.addHook('onRequest', async (request, reply) => {
    if (isEncrypted(request)) return;
    if (o.plain === 'redirect') {
      const host = hostOf(request.headers.host);
      if (!host) return reply.code(400).send({ error: 'Bad Request', code: 'CAMD_ERR_BAD_REQUEST', message: 'a Host header is needed to redirect to HTTPS' });
      return reply
        .code(308)
        .header('location', `https://${host}:${o.httpsPort()}${request.url}`)
        .send({ error: 'Permanent Redirect', code: 'CAMD_ERR_HTTPS_ONLY', message: 'this camera answers on HTTPS' });
    }
    if (!o.basicOverPlainHttp) (request as unknown as Record<symbol, unknown>)[BASIC_REFUSED] = o.httpsPort();
  });
}
