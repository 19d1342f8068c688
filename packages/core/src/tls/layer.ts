import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Admission, ConnectionGuard } from '../net/connection-guard.js';
import type { Certificates } from './certificates.js';

export interface TlsLayerOptions {
  /**
   * The plain server's connection guard: each raw TCP connection is admitted there as it opens, before
   * its handshake, so TLS connections count against the same per-address and unauthenticated limits
   * as plain ones, and one whose handshake (then authentication) does not come in time is closed by
   * the same deadline.
   */
  guard: ConnectionGuard;
  /** A connection must complete its handshake within this time, or it is closed (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Open connections at most, handshaking or not; Node drops more before any code runs for them. */
  maxConnections?: number;
  log: Logger;
  /** What the log calls this server (`https`, `rtsps`). */
  name: string;
}

/**
 * TLS in front of a plain-text server: a `tls.Server` whose decrypted connections go to `accept`,
 * the very entry point of the plain server (HTTP's connection handling, RTSP's accept), so every
 * parser, limit and timeout of the plain server applies to them as well. Each raw connection is
 * admitted by the plain server's guard when it opens; `accept` gets the decrypted socket with that
 * admission (a refused one answered there, an admitted one carried on with `conn.carry`). It serves
 * the current certificate and takes a new one for new connections when the files change; open
 * connections keep theirs. A handshake that does not finish in time or fails closes the connection
 * (counted, and logged at debug: scanners and clients that do not trust the certificate do it all day).
 */
export function createTlsLayer(certificates: Certificates, accept: (socket: TLSSocket, admission: Admission) => void, o: TlsLayerOptions): TlsLayer {
  // Raw connections by peer (address and port: the TLS socket reports the same), so that a decrypted
  // connection is handed over with the admission of the raw one under it, and so that closing the
  // layer also ends those still in their handshake.
  const raw = new Map<string, { socket: Socket; admission: Admission }>();
  const peer = (s: { remoteAddress?: string; remotePort?: number }) => `${s.remoteAddress}|${s.remotePort}`;
  const server = createServer({ ...certificates.secureOptions(), handshakeTimeout: o.handshakeTimeoutMs ?? 10_000 }, (socket: TLSSocket) => {
    const under = raw.get(peer(socket));
    if (under) accept(socket, under.admission);
    else socket.destroy();
  });
  if (o.maxConnections !== undefined) server.maxConnections = o.maxConnections;
  const layer = Object.assign(server, {
    handshakeFailures: 0,
    destroyAll: () => {
      for (const r of raw.values()) r.socket.destroy();
    },
  }) as TlsLayer;
  const off = certificates.onChange(() => server.setSecureContext(certificates.secureOptions()));
  server.once('close', off);
  // Runs before tls.Server's own listener (prepended): a connection the guard refuses without an
  // answer is destroyed before any handshake work is done for it.
  server.prependListener('connection', (socket: Socket) => {
    socket.on('error', () => undefined);
    const admission = o.guard.admit(socket);
    if (!admission.ok && !admission.answer) return;
    const key = peer(socket);
    raw.set(key, { socket, admission });
    socket.once('close', () => raw.get(key)?.socket === socket && raw.delete(key));
  });
  server.on('tlsClientError', (err, socket) => {
    layer.handshakeFailures++;
    o.log.debug({ client: socket.remoteAddress, err: err.message }, `${o.name}: TLS handshake failed`);
    socket.destroy();
  });
  server.on('error', (err) => o.log.error({ err }, `${o.name}: server error`));
  return layer;
}

export type TlsLayer = Server & {
  /** Handshakes that failed or timed out since the start. */
  handshakeFailures: number;
  /** Ends every connection of the layer (after `close()`, which only stops listening). */
  destroyAll(): void;
};

/** Listens; rejects with the listen error (a port in use). */
export function listenTls(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function portOf(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}
