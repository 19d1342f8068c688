import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { JPEG_RTP_MAX_SIZE, PAYLOAD_TYPE, videoMediaSection, type Caller, type CodecParameters, type GuardedConnection } from '@camd/core';
import type { ConnParent } from './conn-parent.js';
import { formatResponse, RequestParser, type ParsedItem, type RtspRequest } from './request-parser.js';
import type { RtspSession } from './rtsp-session.js';
import { formatTransport, parseTransport } from './transport-header.js';

export type { ConnParent, StreamTarget } from './conn-parent.js';

const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const KNOWN_UNSUPPORTED = new Set(['ANNOUNCE', 'RECORD', 'REDIRECT']);
const MAX_SESSIONS_PER_CONNECTION = 8;
/**
 * Requests read and not answered yet: past it the connection is not read until one is answered. A
 * client waits for an answer before its next request (ffmpeg, GStreamer) or pipelines a couple; a
 * flood of pipelined requests waits in the peer's socket, not in the daemon's memory.
 */
export const MAX_PIPELINED = 4;
/**
 * Unsent output above which the connection is not read (answers and interleaved media alike): a
 * peer that does not read its answers stops being read, and is closed after `stallMs`.
 */
export const OUTPUT_BOUND = 64 * 1024;
/**
 * Requests a connection may send before one authenticates (a client needs three: OPTIONS, DESCRIBE
 * answered 401, DESCRIBE with credentials). A flood of anonymous requests ends here, well before
 * the guard's deadline for unauthenticated connections.
 */
export const MAX_UNAUTHENTICATED_REQUESTS = 32;

type Reply = { status: number; headers?: Record<string, string | number | undefined>; body?: string };

/** One client TCP connection: parses its requests, answers them in order, carries interleaved media. */
export class RtspConnection {
  readonly id = randomBytes(6).toString('hex');
  private readonly parser = new RequestParser();
  private queue: Promise<void> = Promise.resolve();
  /** Requests taken from the parser and not answered yet (at most MAX_PIPELINED). */
  private pending = 0;
  /** Whole requests wait in the parser (their reader is held back), so no head is being trickled. */
  private held = false;
  /** Where its requests come from: its socket, and the POST sides of an HTTP tunnel. */
  private readonly inputs = new Set<Socket>();
  /** What the connection guard counts of it (its socket, its POST sides): told when a request authenticated. */
  private readonly guarded = new Set<GuardedConnection>();
  private authenticated = false;
  /** Requests answered before one authenticated. */
  private anonymous = 0;
  /** Sessions this connection created (a TEARDOWN, timeout or BYE closes them; see `live()`). */
  private readonly sessions = new Set<RtspSession>();
  private closed = false;
  private headTimer?: NodeJS.Timeout;
  /** What DESCRIBE told this client, by stream: the format its sessions are bound to. */
  private readonly described = new Map<string, CodecParameters>();

  constructor(
    readonly socket: Socket,
    private readonly parent: ConnParent,
    /** Bytes already read from the socket (to tell RTSP from an HTTP tunnel). */
    initial?: Buffer,
    guarded?: GuardedConnection,
  ) {
    socket.setNoDelay(true);
    // Idle = nothing read or written: a playing TCP session writes all the time; a connection whose
    // sessions play over UDP is kept (its sessions time out on their own), and looked at again after
    // another idle period (a timeout fires once per idle period, and UDP play is not TCP activity).
    socket.setTimeout(parent.idleTimeoutMs);
    socket.on('timeout', () => {
      if (this.live().size > 0) return void socket.setTimeout(parent.idleTimeoutMs);
      this.note('idle', {}, 'rtsp: closing an idle connection without a session');
      socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    // Answers written: room for more requests.
    socket.on('drain', () => this.pump());
    this.attachInput(socket, guarded, (chunk) => this.feed(chunk));
    if (initial?.length) this.feed(initial);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';
  }

  /**
   * A socket whose bytes reach this connection (through `feed`): its own, or a POST side of an HTTP
   * tunnel. It is paused and resumed with the connection, and closed with it.
   */
  attachInput(input: Socket, guarded?: GuardedConnection, onData?: (chunk: Buffer) => void): void {
    this.inputs.add(input);
    if (guarded) {
      this.guarded.add(guarded);
      if (this.authenticated) guarded.authenticate();
    }
    if (onData) input.on('data', onData);
    input.once('close', () => {
      this.inputs.delete(input);
      if (guarded) this.guarded.delete(guarded);
    });
    if (this.held) input.pause();
  }

  /** An info line about what this peer did, rate-limited per address and `kind`. */
  private note(kind: string, fields: Record<string, unknown>, msg: string): void {
    this.parent.logThrottle.log(this.parent.log, 'info', `${kind} ${this.remoteAddress}`, { client: this.remoteAddress, ...fields }, msg);
  }

  /** Sends what was written, then closes at once: a client that never closes its side holds nothing. */
  private closeAfterAnswer(): void {
    clearTimeout(this.headTimer);
    // Nothing more is read: what a flooding peer sends meanwhile stays in its socket.
    for (const input of this.inputs) input.pause();
    this.socket.end(() => this.socket.destroy());
  }

  /** What the client sent: from its socket, or decoded from the POST side of an HTTP tunnel. */
  feed(chunk: Buffer): void {
    if (this.closed || !this.socket.writable) return;
    this.parser.append(chunk);
    this.pump();
  }

  /** Takes what the client sent while it has room: a few requests in flight, its answers read. */
  private pump(): void {
    for (;;) {
      // Closed, or closing after an answer: nothing more is read.
      if (this.closed || !this.socket.writable) return;
      if (this.pending >= MAX_PIPELINED || this.socket.writableLength > OUTPUT_BOUND) break;
      const item = this.parser.take();
      if (!item) break;
      this.onItem(item);
    }
    this.hold(this.parser.partial && (this.pending >= MAX_PIPELINED || this.socket.writableLength > OUTPUT_BOUND));
    // A request that was begun must be finished in time: trickling a head is not a way to hold a connection.
    if (!this.parser.partial || this.held) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    } else if (!this.headTimer) {
      this.headTimer = setTimeout(() => {
        this.note('head timeout', {}, 'rtsp: request not finished in time; closing');
        this.write(408, { Connection: 'close' });
        this.closeAfterAnswer();
      }, this.parent.headTimeoutMs);
      this.headTimer.unref();
    }
  }

  /** Stops reading its inputs while requests wait unanswered (or its answers unread), and reads again once they are. */
  private hold(on: boolean): void {
    if (on === this.held) return;
    this.held = on;
    for (const input of this.inputs) {
      if (on) input.pause();
      else input.resume();
    }
  }

  private onItem(item: ParsedItem): void {
    if (item.kind === 'interleaved') {
      const s = [...this.live()].find((x) => x.transport?.kind === 'tcp' && x.transport.rtcpChannel === item.channel);
      if (s) this.parent.onRtcp(s, item.data);
    } else if (item.kind === 'error') {
      this.note(`malformed ${item.status}`, { status: item.status }, `rtsp: malformed request: ${item.reason}`);
      this.write(item.status, { CSeq: item.cseq, Connection: 'close' });
      this.closeAfterAnswer();
    } else {
      const req = item.request;
      this.pending++;
      this.queue = this.queue
        .then(() => this.handle(req))
        .catch((err) => {
          this.parent.log.error({ err, client: this.remoteAddress }, 'rtsp: request failed');
          this.write(500, { CSeq: req.headers.cseq });
        })
        .finally(() => {
          this.pending--;
          this.pump();
        });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /** Closes the connection once what was written is sent, unless another session of it still plays. */
  endIfIdle(): void {
    if (this.live().size === 0 && !this.socket.destroyed) this.closeAfterAnswer();
  }

  /** The sessions it created that are not closed yet. */
  private live(): Set<RtspSession> {
    for (const s of this.sessions) if (s.state === 'closed') this.sessions.delete(s);
    return this.sessions;
  }

  private async handle(req: RtspRequest): Promise<void> {
    if (this.closed || !this.socket.writable) return;
    const cseq = req.headers.cseq;
    if (!this.authenticated && ++this.anonymous > MAX_UNAUTHENTICATED_REQUESTS) {
      this.note('anonymous requests', {}, `rtsp: closing a connection that sent ${MAX_UNAUTHENTICATED_REQUESTS} requests without authenticating`);
      this.write(503, { CSeq: cseq, Server: 'camd', Connection: 'close', 'X-Reason': `${MAX_UNAUTHENTICATED_REQUESTS} requests without authenticating` });
      return this.closeAfterAnswer();
    }
    const reply = await this.dispatch(req);
    this.write(reply.status, { CSeq: cseq, Server: 'camd', ...reply.headers }, reply.body);
  }

  private write(status: number, headers: Record<string, string | number | undefined>, body?: string): void {
    if (this.socket.writable) this.socket.write(formatResponse(status, headers, body));
  }

  private async dispatch(req: RtspRequest): Promise<Reply> {
    if (req.headers.cseq === undefined || !/^\d{1,10}$/.test(req.headers.cseq)) return { status: 400 };
    if (req.version !== 'RTSP/1.0' && req.version !== 'RTSP/2.0') return { status: 505 };
    if (req.method === 'OPTIONS') return { status: 200, headers: { Public: PUBLIC } };
    if (KNOWN_UNSUPPORTED.has(req.method)) return { status: 405, headers: { Allow: PUBLIC } };
    if (!PUBLIC.split(', ').includes(req.method)) return { status: 501, headers: { Public: PUBLIC } };

    const auth = await this.parent.authenticate({
      method: req.method,
      url: req.url,
      authorization: req.headers.authorization,
      address: this.socket.remoteAddress,
      connection: this.id,
    });
    if (!auth.ok) return { status: auth.status, headers: auth.headers };
    if (!this.authenticated) {
      // From now on the connection is a client's, not an anonymous one's: no deadline to authenticate.
      this.authenticated = true;
      for (const g of this.guarded) g.authenticate();
    }
    const caller = auth.caller;
    switch (req.method) {
      case 'DESCRIBE':
        return this.describe(req);
      case 'SETUP':
        return await this.setup(req, caller);
      default:
        return this.withSession(req, caller);
    }
  }

  private async describe(req: RtspRequest): Promise<Reply> {
    const target = this.parent.resolve(req.url);
    if (!target) return { status: 404 };
    let params: CodecParameters;
    try {
      params = await this.parent.parameters(target.settings.name, 5000);
    } catch {
      return { status: 503, headers: { 'Retry-After': 2 } };
    }
    // The SDP describes what the encoder sends now (its parameter sets), not what the settings say.
    if (params.codec === 'mjpeg' && (params.width > JPEG_RTP_MAX_SIZE || params.height > JPEG_RTP_MAX_SIZE)) {
      return {
        status: 415,
        headers: {
          'X-Reason': `RTP/JPEG (RFC 2435) carries at most ${JPEG_RTP_MAX_SIZE}x${JPEG_RTP_MAX_SIZE}; this MJPEG stream is ${params.width}x${params.height}`,
        },
      };
    }
    this.described.set(target.settings.name, params);
    const base = `${target.base}/`;
    const host = this.socket.localAddress?.replace(/^::ffff:/, '') ?? '0.0.0.0';
    const sdp = [
      'v=0',
      `o=- ${Date.now()} 1 IN IP4 ${host}`,
      `s=camd ${target.settings.name}`,
      'c=IN IP4 0.0.0.0',
      't=0 0',
      'a=tool:camd',
      'a=range:npt=now-',
      'a=control:*',
      ...videoMediaSection({
        payloadType: PAYLOAD_TYPE[params.codec],
        params: { ...params, fps: target.settings.fps },
        control: 'trackID=0',
        bitrate: target.settings.bitrate,
      }),
      '',
    ].join('\r\n');
    return { status: 200, headers: { 'Content-Base': base, 'Content-Type': 'application/sdp' }, body: sdp };
  }

  private async setup(req: RtspRequest, caller: Caller): Promise<Reply> {
    const target = this.parent.resolve(req.url);
    if (!target || (target.track !== undefined && target.track !== 'trackID=0')) return { status: 404 };
    // RTSPS: media stays inside the TLS connection (interleaved). Plain RTP over UDP would carry it in
    // clear, and camd has no SRTP: UDP offers are passed over; with nothing else offered, 461.
    const secure = (this.socket as Partial<TLSSocket>).encrypted === true;
    const transport = parseTransport(req.headers.transport, this.remoteAddress, { udp: !secure });
    if (!transport && secure) return { status: 461, headers: { 'X-Reason': 'RTSPS sends RTP interleaved in the TLS connection (RTP/AVP/TCP) only' } };
    if (!transport) return { status: 461 };
    const udp = transport.kind === 'udp' ? this.parent.udpPorts() : undefined;
    if (transport.kind === 'udp' && !udp) return { status: 461 };
    let session: RtspSession | undefined;
    if (req.headers.session) {
      const found = this.findSession(req.headers.session, caller);
      if ('status' in found) return found;
      session = found.session;
      if (session.stream !== target.settings.name) return { status: 459 };
    } else {
      if (this.live().size >= MAX_SESSIONS_PER_CONNECTION)
        return { status: 503, headers: { 'X-Reason': `this connection holds ${MAX_SESSIONS_PER_CONNECTION} sessions, the most one may` } };
      // A session is bound to the format its client was told about (a client that skipped DESCRIBE: the current one).
      let negotiated = this.described.get(target.settings.name);
      if (!negotiated) {
        try {
          negotiated = await this.parent.parameters(target.settings.name, 5000);
        } catch {
          return { status: 503, headers: { 'Retry-After': 2 } };
        }
      }
      const created = this.parent.createSession(target.settings.name, caller, this, negotiated);
      if ('refused' in created) return { status: 503, headers: { 'X-Reason': created.refused } };
      session = created;
      this.sessions.add(session);
    }
    // One track per stream: a second SETUP of it in the same session is a state error.
    if (!session.setup(transport)) return { status: 455, headers: { Allow: 'PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER' } };
    session.touch();
    return { status: 200, headers: { Transport: formatTransport(transport, session.ssrc, udp), Session: session.header } };
  }

  private withSession(req: RtspRequest, caller: Caller): Reply {
    if (!req.headers.session) {
      // Keep-alives without a session are harmless.
      if (req.method === 'GET_PARAMETER' || req.method === 'SET_PARAMETER') return { status: 200 };
      return { status: 454 };
    }
    const found = this.findSession(req.headers.session, caller);
    if ('status' in found) return found;
    const s = found.session;
    s.touch();
    switch (req.method) {
      case 'PLAY':
        if (!s.play()) return { status: 455, headers: { Allow: 'SETUP, TEARDOWN' } };
        return { status: 200, headers: { Session: s.header, Range: 'npt=now-' } };
      case 'PAUSE':
        if (!s.pause()) return { status: 455 };
        return { status: 200, headers: { Session: s.header } };
      case 'TEARDOWN':
        s.teardown('teardown');
        return { status: 200, headers: { Session: s.id } };
      default:
        return { status: 200, headers: { Session: s.header } };
    }
  }

  /** A session may be used only by the user who created it, and over another connection only for UDP. */
  private findSession(header: string, caller: Caller): { session: RtspSession } | Reply {
    const id = header.split(';')[0]!.trim();
    const s = this.parent.findSession(id);
    if (!s || s.caller.username !== caller.username) return { status: 454 };
    if (s.ownerId !== this.id && s.transport?.kind !== 'udp') return { status: 454 };
    return { session: s };
  }

  private onClose(): void {
    clearTimeout(this.headTimer);
    this.closed = true;
    for (const s of this.live()) {
      // UDP sessions may outlive their control connection (until TEARDOWN or timeout).
      if (s.transport?.kind !== 'udp' || s.state !== 'playing') s.teardown('connection closed');
    }
  }
}
