import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { H264_PAYLOAD_TYPE, h264MediaSection, type Caller } from '@camd/core';
import { formatResponse, RequestParser, type RtspRequest } from './request-parser.js';
import { RtspSession } from './rtsp-session.js';
import { formatTransport, parseTransport } from './transport-header.js';
import type { RtspServer } from './rtsp-server.js';

const PUBLIC = 'OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER';
const KNOWN_UNSUPPORTED = new Set(['ANNOUNCE', 'RECORD', 'REDIRECT']);
const MAX_SESSIONS_PER_CONNECTION = 8;
const FAILED_AUTH_DELAY_MS = 500;

type Reply = { status: number; headers?: Record<string, string | number | undefined>; body?: string };

/** One client TCP connection: parses its requests, answers them in order, carries interleaved media. */
export class RtspConnection {
  readonly id = randomBytes(6).toString('hex');
  private readonly parser = new RequestParser();
  private queue: Promise<void> = Promise.resolve();
  readonly sessions = new Set<RtspSession>();
  private closed = false;

  constructor(
    readonly socket: Socket,
    private readonly server: RtspServer,
    /** Bytes already read from the socket (to tell RTSP from an HTTP tunnel). */
    initial?: Buffer,
  ) {
    socket.setNoDelay(true);
    // Idle = nothing read or written: a playing TCP session writes all the time; a connection whose
    // sessions play over UDP is kept (its sessions time out on their own).
    socket.setTimeout(server.idleTimeoutMs, () => {
      if (this.sessions.size > 0) return;
      this.server.log.info({ client: this.remoteAddress }, 'rtsp: closing an idle connection without a session');
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

  /** What the client sent: from its socket, or decoded from the POST side of an HTTP tunnel. */
  feed(chunk: Buffer): void {
    for (const item of this.parser.push(chunk)) {
      if (item.kind === 'interleaved') {
        const s = [...this.sessions].find((x) => x.transport?.kind === 'tcp' && x.transport.rtcpChannel === item.channel);
        if (s) this.server.onRtcp(s, item.data);
      } else if (item.kind === 'error') {
        this.server.log.info({ client: this.remoteAddress, status: item.status }, `rtsp: malformed request: ${item.reason}`);
        this.write(item.status, { CSeq: item.cseq, Connection: 'close' });
        this.socket.end();
      } else {
        const req = item.request;
        this.queue = this.queue.then(() => this.handle(req)).catch((err) => {
          this.server.log.error({ err, client: this.remoteAddress }, 'rtsp: request failed');
          this.write(500, { CSeq: req.headers.cseq });
        });
      }
    }
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

    const auth = await this.server.auth.check(req.method, req.headers.authorization);
    if (!auth.ok) {
      if (auth.failed) {
        this.server.log.warn({ client: this.remoteAddress, method: req.method }, 'rtsp: authentication failed');
        await new Promise((r) => setTimeout(r, FAILED_AUTH_DELAY_MS));
      }
      return { status: auth.status, headers: auth.headers };
    }
    const caller = auth.caller;
    switch (req.method) {
      case 'DESCRIBE':
        return this.describe(req);
      case 'SETUP':
        return this.setup(req, caller);
      default:
        return this.withSession(req, caller);
    }
  }

  private async describe(req: RtspRequest): Promise<Reply> {
    const target = this.server.resolve(req.url);
    if (!target) return { status: 404 };
    if (target.settings.codec !== 'h264') return { status: 415, headers: { 'X-Reason': `${target.settings.codec} is not served over RTSP` } };
    let params;
    try {
      params = await this.server.hub.waitForParameters(target.settings.name, 5000);
    } catch {
      return { status: 503, headers: { 'Retry-After': 2 } };
    }
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
      ...h264MediaSection({ payloadType: H264_PAYLOAD_TYPE, params: { ...params, fps: target.settings.fps }, control: 'trackID=0', bitrate: target.settings.bitrate }),
      '',
    ].join('\r\n');
    return { status: 200, headers: { 'Content-Base': base, 'Content-Type': 'application/sdp' }, body: sdp };
  }

  private setup(req: RtspRequest, caller: Caller): Reply {
    const target = this.server.resolve(req.url);
    if (!target || (target.track !== undefined && target.track !== 'trackID=0')) return { status: 404 };
    const transport = parseTransport(req.headers.transport, this.remoteAddress);
    if (!transport) return { status: 461 };
    let session: RtspSession | undefined;
    if (req.headers.session) {
      const found = this.findSession(req.headers.session, caller);
      if ('status' in found) return found;
      session = found.session;
      if (session.stream !== target.settings.name) return { status: 459 };
      // One track per stream: a second SETUP of it in the same session is a state error.
      if (session.transport) return { status: 455, headers: { Allow: 'PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER' } };
    } else {
      if (this.sessions.size >= MAX_SESSIONS_PER_CONNECTION || !this.server.canAddSession()) return { status: 503 };
      session = this.server.createSession(target.settings.name, caller, this);
      this.sessions.add(session);
    }
    session.transport = transport;
    session.state = 'ready';
    session.touch();
    const packets = this.server.packets(target.settings.name);
    let reply: string;
    if (transport.kind === 'tcp') {
      reply = formatTransport(transport, packets.ssrc);
    } else {
      const udp = this.server.udpPorts();
      if (!udp) return { status: 461 };
      reply = formatTransport(transport, packets.ssrc, udp);
    }
    return { status: 200, headers: { Transport: reply, Session: `${session.id};timeout=${Math.round(this.server.sessionTimeoutMs / 1000)}` } };
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
    const session = `${s.id};timeout=${Math.round(this.server.sessionTimeoutMs / 1000)}`;
    switch (req.method) {
      case 'PLAY':
        if (s.state === 'init' || !s.transport) return { status: 455, headers: { Allow: 'SETUP, TEARDOWN' } };
        this.server.play(s);
        return { status: 200, headers: { Session: session, Range: 'npt=now-' } };
      case 'PAUSE':
        if (s.state === 'init') return { status: 455 };
        s.pause();
        return { status: 200, headers: { Session: session } };
      case 'TEARDOWN':
        this.server.closeSession(s, 'teardown');
        return { status: 200, headers: { Session: s.id } };
      default:
        return { status: 200, headers: { Session: session } };
    }
  }

  /** A session may be used only by the user who created it, and over another connection only for UDP. */
  private findSession(header: string, caller: Caller): { session: RtspSession } | Reply {
    const id = header.split(';')[0]!.trim();
    const s = this.server.sessions.get(id);
    if (!s || s.caller.username !== caller.username) return { status: 454 };
    if (s.ownerId !== this.id && s.transport?.kind !== 'udp') return { status: 454 };
    return { session: s };
  }

  private onClose(): void {
    this.closed = true;
    for (const s of this.sessions) {
      // UDP sessions may outlive their control connection (until TEARDOWN or timeout).
      if (s.transport?.kind !== 'udp' || s.state !== 'playing') this.server.closeSession(s, 'connection closed');
    }
    this.server.forgetConnection(this);
  }

  close(): void {
    this.socket.destroy();
  }
}
