import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { HttpLimits } from '../config.js';
import { type Admission, ConnectionGuard, type GuardedConnection } from '../net/connection-guard.js';
import { LogThrottle } from '../net/log-throttle.js';
import { statusText } from './errors.js';
import type { RequestPacer } from './pacer.js';

/**
 * Requests read on one connection and not answered yet, past which it is not read: browsers and HTTP
 * libraries send one at a time; a peer with more waiting pipelines without reading its answers.
 */
export const MAX_QUEUED_HTTP = 4;
/** Unsent output of a connection past which it is not read (its peer is not reading its answers). */
export const HTTP_OUTPUT_BOUND = 64 * 1024;
/**
 * Requests in flight at which a connection is closed: Node parses every request of a chunk it read at
 * once, so a peer can put more than MAX_QUEUED_HTTP in one packet; those cannot wait unread.
 */
export const MAX_PIPELINED_HTTP = 16;

interface ConnState {
  conn?: GuardedConnection;
  /** Refused: its first request is answered with why, then it closes. */
  refusal?: Extract<Admission, { ok: false }>;
  inflight: number;
  /** Not read: too many requests wait for their answers, or too much of its output is unsent. */
  held: boolean;
  /** It did not authenticate in time: closed once its request in flight is answered. */
  expired: boolean;
}

/**
 * The HTTP server's connections: admitted by the connection guard (per address, unauthenticated
 * ones, peers that stop reading), read through the request pacer, and told when a request on them
 * authenticated.
 *
 * Backpressure is camd's: Node pauses a connection when a request arrives while earlier answers are
 * unsent, but resumes it as soon as the answers queued behind them are small (`socketOnDrain` in
 * Node's `_http_server.js` looks at the queued bytes only), so a peer that pipelines small requests
 * and reads nothing is read on and on. Here a connection is not read while MAX_QUEUED_HTTP requests
 * wait for their answers or more than HTTP_OUTPUT_BOUND of its output is unsent, and neither the
 * pacer nor Node's resume reads it before then.
 */
export class HttpConnections {
  readonly guard: ConnectionGuard;
  private readonly state = new WeakMap<Socket, ConnState>();
  /** Connections from another listener (HTTPS, decrypted) with the admission of the raw connection under them. */
  private readonly handedOver = new WeakMap<Socket, Admission>();
  private http?: Server;
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly limits: HttpLimits,
    private readonly log: Logger,
  ) {
    this.guard = new ConnectionGuard({ protocol: 'http', optionPrefix: 'http.limits.', log, limits });
  }

  /** A request on `socket` authenticated: it is a client's connection, with no deadline to authenticate. */
  authenticated(socket: Socket): void {
    this.state.get(socket)?.conn?.authenticate();
  }

  /**
   * A connection from another listener (HTTPS: the TLS layer admitted its raw connection with this
   * guard): served as one of the HTTP port's own, its limits and deadlines carried on from `admission`.
   */
  accept(socket: Socket, admission: Admission): void {
    if (!this.http) return void socket.destroy();
    this.handedOver.set(socket, admission);
    this.http.emit('connection', socket);
  }

  /**
   * An HTTP server whose reading and routing go through `pacer`: a new connection, and a kept-alive one
   * after each answer, is read again only when the pacer gets to it, so a burst of requests is parsed,
   * not only routed, a slice per turn of the event loop.
   */
  server(pacer: RequestPacer, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
    const readLater = (socket: Socket, st: ConnState) => {
      socket.pause();
      pacer.run(() => st.held || socket.resume());
    };
    const server = createServer((req, res) => {
      const socket = req.socket;
      const st = this.state.get(socket);
      if (!st) return void socket.destroy();
      if (st.refusal) return refuse(res, st.refusal);
      if (++st.inflight > MAX_PIPELINED_HTTP) {
        this.throttle.log(
          this.log,
          'warn',
          `pipelined ${st.conn?.address}`,
          { client: st.conn?.address },
          `http: closing a connection with more than ${MAX_PIPELINED_HTTP} requests waiting for their answers`,
        );
        return void socket.destroy();
      }
      if (st.expired) res.shouldKeepAlive = false;
      res.once('close', () => {
        st.inflight--;
        if (st.expired && st.inflight === 0) socket.destroy();
        else this.backpressure(socket, st);
      });
      res.once('finish', () => readLater(socket, st));
      this.backpressure(socket, st);
      pacer.run(() => handler(req, res));
    });
    server.maxConnections = this.limits.maxConnections;
    server.on('connection', (socket: Socket) => {
      const st: ConnState = { inflight: 0, held: false, expired: false };
      const expired = () => {
        // Between requests it closes now; a request in flight is answered first (`Connection: close`).
        st.expired = true;
        if (st.inflight === 0) socket.destroy();
      };
      const handed = this.handedOver.get(socket);
      const admission = handed ?? this.guard.admit(socket, expired);
      if (handed?.ok) handed.conn.carry(socket, expired);
      if (admission.ok) st.conn = admission.conn;
      else if (admission.answer) st.refusal = admission;
      else return;
      this.state.set(socket, st);
      if (!admission.ok) return;
      socket.on('drain', () => this.backpressure(socket, st));
      // Whoever resumes a held connection (Node once its queued answers are small, the pacer), it stays
      // unread: paused again before any byte is read (the 'resume' event comes before the next read).
      socket.on('resume', () => st.held && socket.pause());
      readLater(socket, st);
    });
    server.on('close', () => this.guard.close());
    this.http = server;
    return server;
  }

  /** Holds a connection (not read) while it has too much waiting, and reads it again once it has not. */
  private backpressure(socket: Socket, st: ConnState): void {
    const full = st.inflight >= MAX_QUEUED_HTTP || socket.writableLength > HTTP_OUTPUT_BOUND;
    if (full === st.held || socket.destroyed) return;
    st.held = full;
    if (full) socket.pause();
    else socket.resume();
  }
}

/** A refused connection's answer: `{ error, code, message }` with 429 (this address) or 503 (everyone's limit), then close. */
function refuse(res: ServerResponse, r: Extract<Admission, { ok: false }>): void {
  const body = JSON.stringify({ error: statusText(r.status), code: r.code, message: r.message });
  res.shouldKeepAlive = false;
  res.writeHead(r.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': '5',
  });
  res.end(body);
}
