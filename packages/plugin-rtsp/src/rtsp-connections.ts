import type { Socket } from 'node:net';
import { type Admission, ConnectionGuard, type ConnectionLimits, type GuardedConnection } from '@camd/core';
import { Base64Stream, classifyFirstBytes, httpError, MAX_TUNNELS, TUNNEL_GET_RESPONSE } from './http-tunnel.js';
import { formatResponse } from './request-parser.js';
import { RtspConnection, type ConnParent } from './rtsp-connection.js';

/** A new connection must say what it is (RTSP, or a side of an HTTP tunnel) within this time. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;
/** Bytes of a refused connection's first request that are looked at (for its CSeq). */
const REFUSED_HEAD = 8192;

/**
 * The RTSP server's connections: admitted by core's connection guard (per address, unauthenticated
 * ones, peers that stop reading), told apart (plain RTSP, or a side of an RTSP-over-HTTP tunnel)
 * and paired into tunnels.
 */
export class RtspConnections {
  private readonly byId = new Map<string, RtspConnection>();
  /** HTTP tunnels by x-sessioncookie: the RTSP connection living on their GET side. */
  private readonly tunnels = new Map<string, RtspConnection>();
  readonly guard: ConnectionGuard;

  constructor(
    private readonly parent: ConnParent,
    limits: ConnectionLimits,
  ) {
    this.guard = new ConnectionGuard({ protocol: 'rtsp', optionPrefix: 'option ', log: parent.log, limits });
  }

  /** Whether the connection `id` is still open. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  close(): void {
    this.guard.close();
    for (const c of this.byId.values()) c.close();
  }

  /**
   * Admits a new connection, then reads its first bytes: plain RTSP, or one side of an RTSP-over-HTTP
   * tunnel. A decrypted RTSPS connection comes `handed` the admission of its raw connection (made by
   * this guard before the handshake), and is carried on from there.
   */
  accept(socket: Socket, handed?: Admission): void {
    socket.on('error', () => undefined);
    const admission = handed ?? this.guard.admit(socket);
    if (handed?.ok) handed.conn.carry(socket);
    if (!admission.ok) {
      if (admission.answer) answerRefusal(socket, admission.message);
      return;
    }
    let buf: Buffer = Buffer.alloc(0);
    const silent = () => socket.destroy();
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, silent);
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const first = classifyFirstBytes(buf);
      if (first.kind === 'incomplete') return;
      socket.off('data', onData);
      socket.setTimeout(0);
      socket.off('timeout', silent);
      if (first.kind === 'rtsp') {
        this.adopt(new RtspConnection(socket, this.parent, buf, admission.conn));
      } else if (first.kind === 'bad') {
        this.parent.logThrottle.log(
          this.parent.log,
          'info',
          `bad tunnel ${admission.conn.address}`,
          { client: admission.conn.address, status: first.status },
          `rtsp: bad HTTP tunnel request: ${first.reason}`,
        );
        httpError(socket, first.status, first.reason);
      } else if (first.method === 'GET') {
        this.openTunnel(socket, first.cookie, admission.conn);
      } else {
        this.joinTunnel(socket, first.cookie, first.rest, admission.conn);
      }
    };
    socket.on('data', onData);
  }

  private openTunnel(socket: Socket, cookie: string, guarded: GuardedConnection): void {
    if (this.tunnels.has(cookie)) return httpError(socket, 409, 'this x-sessioncookie is in use');
    if (this.tunnels.size >= MAX_TUNNELS) return httpError(socket, 503, 'too many RTSP-over-HTTP tunnels');
    socket.write(TUNNEL_GET_RESPONSE);
    const c = this.adopt(new RtspConnection(socket, this.parent, undefined, guarded));
    this.tunnels.set(cookie, c);
    socket.on('close', () => {
      if (this.tunnels.get(cookie) === c) this.tunnels.delete(cookie);
    });
  }

  /**
   * A POST side: its body is the client's RTSP in base64 (a client may use several POSTs in turn).
   * It is an input of the GET side's connection: read while that connection has room for requests
   * and its answers are read, paused otherwise (the POST side's body feeds the GET side's output).
   */
  private joinTunnel(socket: Socket, cookie: string, rest: Buffer, guarded: GuardedConnection): void {
    const c = this.tunnels.get(cookie);
    // Only from the address that opened the GET side: a cookie alone must not let another host in.
    if (!c || c.socket.remoteAddress !== socket.remoteAddress)
      return httpError(socket, 404, 'no RTSP-over-HTTP tunnel with this x-sessioncookie (send its GET first)');
    const decoder = new Base64Stream();
    const feed = (chunk: Buffer) => {
      const data = decoder.push(chunk);
      if (!data) {
        this.parent.logThrottle.log(
          this.parent.log,
          'info',
          `tunnel base64 ${c.remoteAddress}`,
          { client: c.remoteAddress },
          'rtsp: HTTP tunnel body is not base64; closing the tunnel',
        );
        socket.destroy();
        c.close();
      } else if (data.length) c.feed(data);
    };
    c.attachInput(socket, guarded, feed);
    c.socket.once('close', () => socket.destroy());
    if (rest.length) feed(rest);
  }

  /** Tracks a connection until its socket closes (after the connection has closed its sessions). */
  private adopt(c: RtspConnection): RtspConnection {
    this.byId.set(c.id, c);
    c.socket.once('close', () => this.byId.delete(c.id));
    return c;
  }
}

/**
 * A refused connection is told why: its first request is answered 503 with the reason in `X-Reason`
 * (an HTTP tunnel side: HTTP 503), then the connection closes. The guard closes it if no request
 * comes in time.
 */
function answerRefusal(socket: Socket, reason: string): void {
  let buf: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 && buf.length < REFUSED_HEAD) return;
    socket.off('data', onData);
    socket.pause();
    const head = buf.subarray(0, end < 0 ? REFUSED_HEAD : end).toString('latin1');
    if (/^(?:GET|POST) /.test(head)) return httpError(socket, 503, reason);
    const cseq = /^cseq:[ \t]*(\d{1,10})[ \t]*$/im.exec(head)?.[1];
    socket.end(formatResponse(503, { CSeq: cseq, Server: 'camd', 'Retry-After': 5, 'X-Reason': reason }), () => socket.destroy());
  };
  socket.on('data', onData);
}
