import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Certificates } from './certificates.js';

export interface TlsLayerOptions {
  /** A connection must complete its handshake within this time, or it is closed (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Open connections at most, handshaking or not; Node drops more before any code runs for them. */
  maxConnections?: number;
  /** Every raw connection, before its handshake: where per-address limits see it. */
  onConnection?: (socket: Socket) => void;
  log: Logger;
  /** What the log calls this server (`https`, `rtsps`). */
  name: string;
}

/**
 * TLS in front of a plain-text server: a `tls.Server` whose decrypted connections go to `accept`,
 * the very entry point of the plain server (HTTP's connection handling, RTSP's accept), so every
 * parser, limit and timeout of the plain server applies to them as well. It serves the current
 * certificate and takes a new one for new connections when the files change; open connections keep
 * theirs. A handshake that does not finish in time or fails closes the connection (counted, and
 * logged at debug: scanners and clients that do not trust the certificate do it all day).
 */
export function createTlsLayer(certificates: Certificates, accept: (socket: TLSSocket, raw: Socket) => void, o: TlsLayerOptions): TlsLayer {
  // Raw connections by peer (address and port: the TLS socket reports the same), so that a decrypted
  // connection is handed over with the raw one its limits were counted on, and so that closing the
  // layer also ends those still in their handshake.
  const raw = new Map<string, Socket>();
  const peer = (s: { remoteAddress?: string; remotePort?: number }) => `${s.remoteAddress}|${s.remotePort}`;
  const server = createServer({ ...certificates.secureOptions(), handshakeTimeout: o.handshakeTimeoutMs ?? 10_000 }, (socket: TLSSocket) => {
    const under = raw.get(peer(socket));
    if (under) accept(socket, under);
    else socket.destroy();
  });
  if (o.maxConnections !== undefined) server.maxConnections = o.maxConnections;
  const layer = Object.assign(server, {
    handshakeFailures: 0,
    destroyAll: () => {
      for (const s of raw.values()) s.destroy();
    },
  }) as TlsLayer;
  const off = certificates.onChange(() => server.setSecureContext(certificates.secureOptions()));
  server.once('close', off);
  server.on('connection', (socket: Socket) => {
    const key = peer(socket);
    raw.set(key, socket);
    socket.once('close', () => raw.get(key) === socket && raw.delete(key));
    o.onConnection?.(socket);
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
