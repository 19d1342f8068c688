import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { JPEG_RTP_MAX_SIZE, PAYLOAD_TYPE, videoMediaSection, type Caller, type CodecParameters, type Logger, type StreamSettings } from '@camd/core';
import { formatResponse, RequestParser, type RtspRequest } from './request-parser.js';
import type { AuthRequest, AuthResult } from './rtsp-auth.js';
import type { RtspSession } from './rtsp-session.js';
import { formatTransport, parseTransport } from './transport-header.js';

const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const KNOWN_UNSUPPORTED = new Set(['ANNOUNCE', 'RECORD', 'REDIRECT']);
const MAX_SESSIONS_PER_CONNECTION = 8;

/** A stream named by a request URL: its settings, the URL base for `Content-Base`, and the track asked for. */
export interface StreamTarget {
  settings: StreamSettings;
  base: string;
  track?: string;
}

/**
 * What a connection needs of its server, and all it may use of it (as mediamtx's `connParent`): the
 * server implements it. Sessions are created and found here; their state is theirs to change.
 */
export interface ConnParent {
  readonly log: Logger;
  /** A connection without a live session that is quiet this long is closed. */
  readonly idleTimeoutMs: number;
  /** A request begun must be whole within this time, or the connection is answered 408 and closed. */
  readonly headTimeoutMs: number;
  /** Checks a request's credentials (through the daemon's brute-force guard: a refusal costs no check). */
  authenticate(req: AuthRequest): Promise<AuthResult>;
  /** The configured stream a request URL names (its path, optionally followed by `/trackID=0`). */
  resolve(url: string): StreamTarget | undefined;
  /** The stream's codec parameters; rejects when the encoder gives none within `timeoutMs`. */
  parameters(stream: string, timeoutMs: number): Promise<CodecParameters>;
  /** A new session owned by `conn`, bound to the format it `negotiated`, or undefined when the server holds as many as it may. */
  createSession(stream: string, caller: Caller, conn: RtspConnection, negotiated: CodecParameters): RtspSession | undefined;
  findSession(id: string): RtspSession | undefined;
  /** camd's UDP port pair, or undefined when UDP is unavailable. */
  udpPorts(): { rtp: number; rtcp: number } | undefined;
  /** An RTCP packet the client sent for `session`. */
  onRtcp(session: RtspSession, data: Buffer): void;
}

type Reply = { status: number; headers?: Record<string, string | number | undefined>; body?: string };

/** One client TCP connection: parses its requests, answers them in order, carries interleaved media. */
export class RtspConnection {
  readonly id = randomBytes(6).toString('hex');
  private readonly parser = new RequestParser();
  private queue: Promise<void> = Promise.resolve();
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
  ) {
    socket.setNoDelay(true);
    // Idle = nothing read or written: a playing TCP session writes all the time; a connection whose
    // sessions play over UDP is kept (its sessions time out on their own), and looked at again after
    // another idle period (a timeout fires once per idle period, and UDP play is not TCP activity).
    socket.setTimeout(parent.idleTimeoutMs);
    socket.on('timeout', () => {
      if (this.live().size > 0) return void socket.setTimeout(parent.idleTimeoutMs);
      this.parent.log.info({ client: this.remoteAddress }, 'rtsp: closing an idle connection without a session');
      socket.destroy();
    });
    socket.on('data', (chunk) => this.feed(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    if (initial?.length) this.feed(initial);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress?.replace(/^::ffff:/, '') ?? 'unknown';
  }

  /** Sends what was written, then closes at once: a client that never closes its side holds nothing. */
  private closeAfterAnswer(): void {
    clearTimeout(this.headTimer);
    this.socket.end(() => this.socket.destroy());
  }

  /** What the client sent: from its socket, or decoded from the POST side of an HTTP tunnel. */
  feed(chunk: Buffer): void {
    this.parseItems(chunk);
    // A request that was begun must be finished in time: trickling a head is not a way to hold a connection.
    if (!this.parser.partial || this.socket.destroyed) {
      clearTimeout(this.headTimer);
      this.headTimer = undefined;
    } else if (!this.headTimer) {
      this.headTimer = setTimeout(() => {
        this.parent.log.info({ client: this.remoteAddress }, 'rtsp: request not finished in time; closing');
        this.write(408, { Connection: 'close' });
        this.closeAfterAnswer();
      }, this.parent.headTimeoutMs);
      this.headTimer.unref();
    }
  }

  private parseItems(chunk: Buffer): void {
    for (const item of this.parser.push(chunk)) {
      if (item.kind === 'interleaved') {
        const s = [...this.live()].find((x) => x.transport?.kind === 'tcp' && x.transport.rtcpChannel === item.channel);
        if (s) this.parent.onRtcp(s, item.data);
      } else if (item.kind === 'error') {
        this.parent.log.info({ client: this.remoteAddress, status: item.status }, `rtsp: malformed request: ${item.reason}`);
        this.write(item.status, { CSeq: item.cseq, Connection: 'close' });
        this.closeAfterAnswer();
        return;
      } else {
        const req = item.request;
        this.queue = this.queue
          .then(() => this.handle(req))
          .catch((err) => {
            this.parent.log.error({ err, client: this.remoteAddress }, 'rtsp: request failed');
            this.write(500, { CSeq: req.headers.cseq });
          });
      }
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
    if (this.closed) return;
    const cseq = req.headers.cseq;
    const reply = await this.dispatch(req);
    this.write(reply.status, { CSeq: cseq, Server: 'camd', ...reply.headers }, reply.body);
  }

  private write(status: number, headers: Record<string, string | number | undefined>, body?: string): void {
    if (!this.socket.destroyed) this.socket.write(formatResponse(status, headers, body));
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
      if (this.live().size >= MAX_SESSIONS_PER_CONNECTION) return { status: 503 };
      // A session is bound to the format its client was told about (a client that skipped DESCRIBE: the current one).
      let negotiated = this.described.get(target.settings.name);
      if (!negotiated) {
        try {
          negotiated = await this.parent.parameters(target.settings.name, 5000);
        } catch {
          return { status: 503, headers: { 'Retry-After': 2 } };
        }
      }
      session = this.parent.createSession(target.settings.name, caller, this, negotiated);
      if (!session) return { status: 503 };
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
