import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { CoreErrors } from '../errors.js';
import { LogThrottle } from './log-throttle.js';

/**
 * Limits on the connections of one server (RTSP, HTTP), by remote address. The defaults of each
 * server are far above what a legitimate client needs (an NVR recording every stream from one
 * address, a room of dashboards behind one NAT) and far below what one address needs to lock
 * everyone else out.
 */
export interface ConnectionLimits {
  /** Open connections from one address (an IPv6 client: from its /64). */
  maxConnectionsPerAddress: number;
  /** Connections on which no request has authenticated yet, in total… */
  maxUnauthenticated: number;
  /** …and from one address: a pool of them cannot be held by one address. */
  maxUnauthenticatedPerAddress: number;
  /** A connection on which no request has authenticated within this time is closed. */
  unauthenticatedTimeoutMs: number;
  /** A connection whose unsent output has not emptied for this long is closed: its peer does not read. */
  drainTimeoutMs: number;
}

/** Refused connections that are answered, per address and in total; more are closed without an answer. */
const ANSWERS_PER_ADDRESS = 4;
const ANSWERS_TOTAL = 64;
/** A refused connection has this long to send the request whose answer tells it why. */
export const REFUSAL_ANSWER_MS = 2000;

/** One admitted connection, as its server sees it. */
export interface GuardedConnection {
  readonly address: string;
  readonly authenticated: boolean;
  /** A request on it authenticated: it no longer counts as unauthenticated and has no deadline to. */
  authenticate(): void;
  /**
   * Its bytes now travel on `socket`: TLS decrypting the raw connection that was admitted (and is
   * still counted, until it closes). The drain deadline watches that socket's unsent output (the raw
   * socket under TLS never holds any), a stuck peer is closed there, and `onExpired` replaces the one
   * given at admission (which closed the raw connection, handshake or not).
   */
  carry(socket: Socket, onExpired?: () => void): void;
}

export type Admission =
  | { ok: true; conn: GuardedConnection }
  /** `answer`: tell the client `message` (RTSP 503, HTTP 429/503) within REFUSAL_ANSWER_MS; otherwise it is closed already. */
  | { ok: false; status: 429 | 503; code: string; message: string; answer: boolean };

export interface GuardOptions {
  /** `rtsp` or `http`: the start of its log lines. */
  protocol: string;
  /** Where the limits are set, for messages (`option ` for a plugin option, `http.limits.` for the config). */
  optionPrefix: string;
  log: Logger;
  limits: ConnectionLimits;
  /** Runs the deadlines (default true; unit tests call `sweep` themselves). */
  timers?: boolean;
  now?: () => number;
}

interface Tracked extends GuardedConnection {
  socket: Socket;
  readonly openedAt: number;
  lastEmpty: number;
  expired: boolean;
  onExpired(): void;
}

/**
 * What every server of the daemon does with the connections a peer opens: counts them by address,
 * refuses past the limits (with an answer, while the answers themselves stay few), closes a
 * connection that does not authenticate in time and one whose peer stops reading. Its log lines are
 * rate-limited per address: an attack is a line a minute, not a line a connection.
 */
export class ConnectionGuard {
  private readonly byAddress = new Map<string, { open: number; unauthenticated: number; answering: number }>();
  private readonly conns = new Set<Tracked>();
  private unauthenticated = 0;
  private answering = 0;
  private readonly throttle: LogThrottle;
  private readonly timer?: NodeJS.Timeout;
  private readonly now: () => number;
  /** What happened so far, for statistics and benchmarks. */
  readonly counts = { refused: 0, expired: 0, stuck: 0 };

  constructor(private readonly o: GuardOptions) {
    this.now = o.now ?? Date.now;
    this.throttle = new LogThrottle(60_000, this.now);
    if (o.timers !== false) {
      const l = o.limits;
      // Deadlines are looked at four times per the shorter one (at most once a second): ~10 s is 10–11 s.
      const every = Math.max(50, Math.min(1000, Math.min(l.unauthenticatedTimeoutMs, l.drainTimeoutMs) / 4));
      this.timer = setInterval(() => this.sweep(), every);
      this.timer.unref();
    }
  }

  get limits(): ConnectionLimits {
    return this.o.limits;
  }

  /**
   * Admits `socket` or says why not. An admitted connection is released when its socket closes;
   * `onExpired` closes one that did not authenticate in time (default: destroy it now).
   */
  admit(socket: Socket, onExpired: () => void = () => socket.destroy()): Admission {
    const address = addressKey(socket.remoteAddress);
    const a = this.entry(address);
    const l = this.o.limits;
    const p = this.o.optionPrefix;
    const refusal =
      a.open >= l.maxConnectionsPerAddress
        ? {
            status: 429 as const,
            message: `${a.open} connections from this address are open, the limit is ${l.maxConnectionsPerAddress} (${p}maxConnectionsPerAddress)`,
          }
        : a.unauthenticated >= l.maxUnauthenticatedPerAddress
          ? {
              status: 429 as const,
              message: `${a.unauthenticated} connections from this address have not authenticated yet, the limit is ${l.maxUnauthenticatedPerAddress} (${p}maxUnauthenticatedPerAddress)`,
            }
          : this.unauthenticated >= l.maxUnauthenticated
            ? {
                status: 503 as const,
                message: `${this.unauthenticated} connections have not authenticated yet, the limit is ${l.maxUnauthenticated} (${p}maxUnauthenticated)`,
              }
            : undefined;
    if (refusal) return this.refuse(socket, address, a, refusal);
    a.open++;
    a.unauthenticated++;
    this.unauthenticated++;
    const now = this.now();
    const c: Tracked = {
      address,
      socket,
      openedAt: now,
      lastEmpty: now,
      expired: false,
      authenticated: false,
      onExpired,
      authenticate: () => {
        if (c.authenticated) return;
        (c as { authenticated: boolean }).authenticated = true;
        a.unauthenticated--;
        this.unauthenticated--;
      },
      carry: (carrier, expired) => {
        c.socket = carrier;
        if (expired) c.onExpired = expired;
        carrier.on('drain', () => void (c.lastEmpty = this.now()));
      },
    };
    this.conns.add(c);
    socket.on('drain', () => void (c.lastEmpty = this.now()));
    socket.once('close', () => {
      this.conns.delete(c);
      if (!c.authenticated) {
        a.unauthenticated--;
        this.unauthenticated--;
      }
      a.open--;
      this.forget(address, a);
    });
    return { ok: true, conn: c };
  }

  /** The deadlines: unauthenticated too long, output not emptied for too long. */
  sweep(now = this.now()): void {
    const l = this.o.limits;
    for (const c of this.conns) {
      if (!c.authenticated && !c.expired && now - c.openedAt >= l.unauthenticatedTimeoutMs) {
        c.expired = true;
        this.counts.expired++;
        this.throttle.log(
          this.o.log,
          'info',
          `expired ${c.address}`,
          { client: c.address },
          `${this.o.protocol}: closing a connection that did not authenticate within ${l.unauthenticatedTimeoutMs / 1000} s`,
        );
        c.onExpired();
      }
      if (c.socket.writableLength === 0) c.lastEmpty = now;
      else if (now - c.lastEmpty >= l.drainTimeoutMs && !c.socket.destroyed) {
        this.counts.stuck++;
        this.throttle.log(
          this.o.log,
          'warn',
          `stuck ${c.address}`,
          { client: c.address, unsent: c.socket.writableLength },
          `${this.o.protocol}: closing a connection whose peer has not read its answers for ${l.drainTimeoutMs / 1000} s`,
        );
        c.socket.destroy();
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
  }

  private refuse(
    socket: Socket,
    address: string,
    a: { open: number; unauthenticated: number; answering: number },
    r: { status: 429 | 503; message: string },
  ): Admission {
    this.counts.refused++;
    this.throttle.log(this.o.log, 'warn', `refused ${address} ${r.status}`, { client: address }, `${this.o.protocol}: connection refused: ${r.message}`);
    const answer = a.answering < ANSWERS_PER_ADDRESS && this.answering < ANSWERS_TOTAL;
    if (!answer) {
      socket.destroy();
      this.forget(address, a);
      return { ok: false, ...r, code: CoreErrors.TOO_MANY_CONNECTIONS.code, answer };
    }
    a.answering++;
    this.answering++;
    const timer = setTimeout(() => socket.destroy(), REFUSAL_ANSWER_MS);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      a.answering--;
      this.answering--;
      this.forget(address, a);
    });
    return { ok: false, ...r, code: CoreErrors.TOO_MANY_CONNECTIONS.code, answer };
  }

  private entry(address: string) {
    let a = this.byAddress.get(address);
    if (!a) this.byAddress.set(address, (a = { open: 0, unauthenticated: 0, answering: 0 }));
    return a;
  }

  private forget(address: string, a: { open: number; answering: number }): void {
    if (a.open === 0 && a.answering === 0 && this.byAddress.get(address) === a) this.byAddress.delete(address);
  }
}

/**
 * The unit connections are counted by: an IPv4 address (also when mapped into IPv6), or an IPv6
 * /64, the block one host (or one home line) is given, so that it cannot step past the limits by
 * taking more addresses of its own.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const a = address.replace(/%.*$/, '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!a.includes(':')) return a;
  const [head = '', tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
