import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { PublishError } from './sink.js';
import { scrub, type ParsedTarget } from './targets.js';

/**
 * TLS for rtsps:// and rtmps:// targets, in one place: Node's TLS with the server's certificate
 * always verified (chain and host name). The trust anchors are Node's default roots (with
 * `NODE_EXTRA_CA_CERTS`), or, when the target has a `ca`, those certificates only (as curl's
 * `--cacert`), so a private CA or a self-signed server is trusted for that target and no other.
 */

/** The target's `ca` as PEM (a file is read at every connect, so a renewed CA is picked up); undefined: the default roots. */
export async function targetCa(target: ParsedTarget): Promise<string | undefined> {
  const ca = target.ca;
  if (!ca) return undefined;
  if ('pem' in ca) return ca.pem;
  let text: string;
  try {
    text = await readFile(ca.file, 'utf8');
  } catch (err) {
    throw new PublishError('tls', `ca file ${ca.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new PublishError('tls', `ca file ${ca.file}: no PEM certificate in it`);
  return text;
}

/** Options of a verified TLS connection to the target's host (SNI with a host name, not with an IP address). */
export function tlsOptions(host: string, port: number, ca: string | undefined): ConnectionOptions {
  return { host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, rejectUnauthorized: true, ...(ca ? { ca } : {}) };
}

/**
 * A socket error as the target's `lastError` says it. A network error keeps its errno code
 * (`ECONNREFUSED`); anything else on a TLS socket failed the handshake: an untrusted or mismatched
 * certificate is named as such, with OpenSSL's reason and what to do about it.
 */
export function socketError(err: Error, target: ParsedTarget, host: string, port: number): PublishError {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (!target.tls || (code && code in constants.errno)) return new PublishError('network', scrub(`${where}: ${code ?? err.message}`, target.secrets));
  const certificate = code && /CERT|SIGNATURE|ISSUER|_CA\b|HOSTNAME|ALTNAME|CHAIN|UNTRUSTED|REVOKED|PURPOSE/.test(code);
  const why = `${err.message}${code ? ` (${code})` : ''}`;
  const text = certificate
    ? target.ca
      ? `${where}: TLS: the server's certificate is not trusted by the target's ca: ${why}`
      : `${where}: TLS: the server's certificate is not trusted: ${why}; for a private CA or a self-signed server, set the target's ca`
    : `${where}: TLS handshake failed: ${why}`;
  return new PublishError('tls', scrub(text, target.secrets));
}

/** A verified TLS connection to the target's server (`secureConnect` reached), or a `PublishError` saying why not. */
export async function connectTls(target: ParsedTarget, timeoutMs: number): Promise<TLSSocket> {
  const host = target.url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.url.port);
  const ca = await targetCa(target);
  return new Promise((resolve, reject) => {
    const s = connect(tlsOptions(host, port, ca));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new PublishError('network', `no TLS connection to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(socketError(err, target, host, port));
    };
    s.once('error', onError);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.off('error', onError);
      s.setNoDelay(true);
      resolve(s);
    });
  });
}
