import type { TLSSocket } from 'node:tls';
import { type Admission, type ConnectionGuard, listenTls, type Logger, type TlsLayer, type TlsScope } from '@camd/core';

export interface RtspsOptions {
  tls: TlsScope;
  host: string;
  log: Logger;
  maxConnections: number;
  /** The RTSP server's connection guard: raw connections are admitted there before their handshake. */
  guard: ConnectionGuard;
  /** The RTSP server's own accept path: a decrypted connection is served like one on the RTSP port. */
  accept: (socket: TLSSocket, admission: Admission) => void;
}

/**
 * RTSPS: RTSP over TLS on its own port, with the daemon's certificate. Only the transport differs:
 * raw connections are admitted by the RTSP server's connection guard before their handshake (RTSP and
 * RTSPS share its per-address and unauthenticated limits and deadlines), decrypted ones go through the
 * RTSP server's accept path (RTSP, or RTSP-over-HTTP tunnels), so every parser, limit, timeout and
 * backpressure applies, and media travels interleaved in the TLS connection.
 */
export class RtspsListener {
  private layer?: TlsLayer;

  constructor(private readonly o: RtspsOptions) {}

  async listen(port: number): Promise<void> {
    const layer = this.o.tls.createServer(this.o.accept, {
      name: 'rtsps',
      log: this.o.log,
      maxConnections: this.o.maxConnections,
      guard: this.o.guard,
    });
    await listenTls(layer, port, this.o.host);
    this.layer = layer;
  }

  get port(): number {
    const a = this.layer?.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  get handshakeFailures(): number {
    return this.layer?.handshakeFailures ?? 0;
  }

  /** Stops listening and ends its connections (their sessions end with them). */
  async close(): Promise<void> {
    const layer = this.layer;
    this.layer = undefined;
    if (!layer) return;
    const closed = new Promise<void>((r) => layer.close(() => r()));
    layer.destroyAll();
    await closed;
  }
}
