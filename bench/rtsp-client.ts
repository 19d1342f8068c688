import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * A small RTSP/TCP client for benchmarks: requests answered in order, interleaved data handed to a
 * callback, Basic or Digest (RFC 2617, as RTSP clients do it) authentication, and a local address to
 * connect from (an attacker on 127.0.0.1, a legitimate client on 127.0.0.2).
 */

export interface RtspAnswer {
  status: number;
  /** Header values by lower-case name; a repeated header (WWW-Authenticate) has several. */
  headers: Map<string, string[]>;
  body: string;
}

export const header = (a: RtspAnswer, name: string): string | undefined => a.headers.get(name.toLowerCase())?.[0];

export interface Credentials {
  username: string;
  password: string;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** The `Authorization` for a request, Basic or the answer to the Digest challenge last seen. */
export class RtspCredentials {
  private challenge?: Record<string, string>;
  private nc = 0;

  constructor(
    readonly creds: Credentials,
    readonly scheme: 'basic' | 'digest',
  ) {}

  /** Remembers the Digest challenge of a 401 (its nonce); true when there is one to answer. */
  learn(a: RtspAnswer): boolean {
    const digest = a.headers.get('www-authenticate')?.find((v) => /^Digest\s/i.test(v));
    if (!digest) return false;
    this.challenge = Object.fromEntries([...digest.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1]!.toLowerCase(), m[2] ?? m[3] ?? '']));
    return true;
  }

  get ready(): boolean {
    return this.scheme === 'basic' || this.challenge !== undefined;
  }

  header(method: string, uri: string): string | undefined {
    const { username, password } = this.creds;
    if (this.scheme === 'basic') return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const c = this.challenge;
    if (!c) return undefined;
    const ha1 = md5(`${username}:${c.realm}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const base = `Digest username="${username}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}"`;
    if (!c.qop?.split(',').includes('auth')) return `${base}, response="${md5(`${ha1}:${c.nonce}:${ha2}`)}"`;
    const nc = (++this.nc).toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    return `${base}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`;
  }
}

export class RtspClient {
  /** Interleaved data (`$`, channel, length): RTP on even channels, RTCP on odd ones. */
  onInterleaved?: (channel: number, data: Buffer) => void;
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (a: RtspAnswer) => void; reject: (e: Error) => void }> = [];
  private cseq = 0;
  private closedWith?: Error;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedWith = new Error('connection closed by the server');
      for (const w of this.waiting.splice(0)) w.reject(this.closedWith);
    });
  }

  /** Connects, or rejects (refused, reset, or no connection within `timeoutMs`). `tls`: RTSPS, the server verified against `ca`. */
  static connect(port: number, opts: { host?: string; localAddress?: string; timeoutMs?: number; tls?: { ca?: string } } = {}): Promise<RtspClient> {
    return new Promise((resolve, reject) => {
      const where = { port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress };
      const s = opts.tls ? connectTls({ ...where, ca: opts.tls.ca, servername: 'localhost' }) : connect(where);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('connect timed out'));
      }, opts.timeoutMs ?? 5000);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(new RtspClient(s));
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined || this.socket.destroyed;
  }

  /** Sends a request and resolves with its answer (answers come in order), or rejects on close or after `timeoutMs` (then closes). */
  request(method: string, url: string, headers: Record<string, string | undefined> = {}, timeoutMs = 10_000): Promise<RtspAnswer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++this.cseq}`];
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) lines.push(`${k}: ${v}`);
    return new Promise<RtspAnswer>((resolve, reject) => {
      // Answers come in order: after one that never came, the connection is of no further use.
      const timer = setTimeout(() => {
        reject(new Error(`no answer to ${method} within ${timeoutMs} ms`));
        this.close();
      }, timeoutMs);
      this.waiting.push({
        resolve: (a) => (clearTimeout(timer), resolve(a)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }

  /**
   * A request with credentials: a Digest client first asks without and answers the challenge of the
   * 401 (then reuses the nonce); a stale or renewed challenge is answered once more.
   */
  async authedRequest(auth: RtspCredentials, method: string, url: string, headers: Record<string, string | undefined> = {}, timeoutMs?: number) {
    const send = () => this.request(method, url, { ...headers, Authorization: auth.header(method, url) }, timeoutMs);
    const first = await send();
    if (first.status !== 401 || auth.scheme !== 'digest') return first;
    const hadChallenge = auth.ready;
    const stale = /stale=true/i.test(first.headers.get('www-authenticate')?.join() ?? '');
    if (!auth.learn(first) || (hadChallenge && !stale)) return first;
    return send();
  }

  /** One interleaved frame (`$`, channel, 16-bit length, data). */
  sendInterleaved(channel: number, data: Buffer): void {
    if (this.closed) return;
    const head = Buffer.from([0x24, channel, data.length >> 8, data.length & 0xff]);
    this.socket.write(Buffer.concat([head, data]));
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length >= 1 && this.buf[0] === 0x24) {
        if (this.buf.length < 4) return;
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) return;
        this.onInterleaved?.(this.buf[1]!, this.buf.subarray(4, 4 + len));
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string[]>();
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const k = line.slice(0, i).trim().toLowerCase();
        headers.set(k, [...(headers.get(k) ?? []), line.slice(i + 1).trim()]);
      }
      const cl = Number(headers.get('content-length')?.[0] ?? 0);
      if (this.buf.length < end + 4 + cl) return;
      const body = this.buf.subarray(end + 4, end + 4 + cl).toString('latin1');
      this.buf = this.buf.subarray(end + 4 + cl);
      const status = Number(/^RTSP\/\d\.\d (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      this.waiting.shift()?.resolve({ status, headers, body });
    }
  }
}
