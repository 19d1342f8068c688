import type { FastifyReply, FastifyRequest } from 'fastify';
import { CoreErrors } from '../errors.js';
import { httpError } from './errors.js';

/**
 * `Host` as RFC 9110 §7.2 allows it and clients send it: a DNS name or IPv4 address (letters, digits,
 * `.`, `-`, `_`, `~`), or an IPv6 literal in brackets, then an optional port. RFC 3986 would also
 * allow `!$&'()*+,;=` and percent escapes in a name; no resolver or client uses them in a Host header,
 * and they are what would break out of the XML and URLs that plugins build from it (ONVIF XAddrs).
 */
const HOST = /^(?:[A-Za-z0-9_~](?:[A-Za-z0-9._~-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/** True for a Host header a real client sends (see `HOST`); an empty one is allowed (RFC 9112 §3.2: a URI without authority). */
export function isValidHostHeader(host: string): boolean {
  return host === '' || HOST.test(host);
}

/**
 * An `onRequest` hook: a request whose Host is no host name is answered 400 before any route sees it
 * (the first line of defence; what builds XML or SDP from it escapes as well).
 */
export async function refuseMalformedHost(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const host = request.headers.host;
  if (host === undefined || isValidHostHeader(host)) return;
  const { status, body } = httpError(new CoreErrors.BAD_HOST('the Host header is not a host name, IP address or [IPv6] with an optional :port'));
  return reply.code(status).header('connection', 'close').send(body);
}
