import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  acquireStreamPackets,
  type Admission,
  type ConnectionGuard,
  isValidHostHeader,
  buildBye,
  ClientSlots,
  LogThrottle,
  type ConnectionLimits,
  buildSenderReport,
  parseRtcp,
  type StreamPackets,
  type StreamPacketsLease,
  rttMs,
  type CamdHooks,
  type Caller,
  type CodecParameters,
  type Logger,
  type StreamHub,
  type StreamSettings,
} from '@camd/core';
import type { AuthRequest, AuthResult, RtspAuth } from './rtsp-auth.js';
import type { ConnParent, RtspConnection, StreamTarget } from './rtsp-connection.js';
import { RtspConnections } from './rtsp-connections.js';
import { LatencySamples, RtspSession, type SessionEvents, type SessionLimits } from './rtsp-session.js';

export interface RtspServerOptions {
  port: number;
  host: string;
  hub: StreamHub;
  hooks: CamdHooks;
  log: Logger;
  auth: RtspAuth;
  streams: () => StreamSettings[];
  sessionTimeoutMs: number;
  maxSessions: number;
  maxSessionsPerUser: number;
  /** A session that is SETUP and not PLAYed within this time ends (keep-alives do not extend it). */
  playTimeoutMs: number;
  maxConnections: number;
  /** Per address, unauthenticated, unread output (its `drainTimeoutMs` is `limits.stallMs`). */
  connectionLimits: Omit<ConnectionLimits, 'drainTimeoutMs'>;
  idleTimeoutMs: number;
  /** A request begun must be whole within this time (default 10 s). */
  headTimeoutMs?: number;
  limits: SessionLimits;
}

const SR_INTERVAL_MS = 5000;
/** How often session timeouts are looked at. */
const TIMEOUT_CHECK_MS = 1000;
/** A request head begun on a connection must be complete within this time. */
const HEAD_TIMEOUT_MS = 10_000;

/**
 * The RTSP server: connections, sessions, the shared UDP socket pair, sender reports and timeouts.
 * Readers of a stream share its packets; each has its own bounded queue in the hub. Its connections
 * see it as their `ConnParent`; its sessions tell it what happens to them (`SessionEvents`).
 */
export class RtspServer implements ConnParent {
  private readonly sessions = new Map<string, RtspSession>();
  /** Sessions per user and in total (`maxSessionsPerUser`, `maxSessions`). */
  private readonly slots: ClientSlots;
  private readonly connections: RtspConnections;
  private readonly streamPackets = new Map<string, StreamPacketsLease>();
  private readonly tcp: Server;
  private udp?: { rtp: UdpSocket; rtcp: UdpSocket; rtpPort: number; rtcpPort: number };
  private timer?: NodeJS.Timeout;
  private lastReports = 0;
  private readonly latency = new Map<string, LatencySamples>();
  readonly logThrottle = new LogThrottle();

  constructor(private readonly opts: RtspServerOptions) {
    this.slots = new ClientSlots('RTSP sessions', {
      perUser: opts.maxSessionsPerUser,
      total: opts.maxSessions,
      perUserOption: 'option maxSessionsPerUser',
      totalOption: 'option maxSessions',
    });
    this.connections = new RtspConnections(this, { ...opts.connectionLimits, drainTimeoutMs: opts.limits.stallMs });
    this.tcp = createServer((socket) => this.connections.accept(socket));
    // Node drops connections beyond this itself, before any of our code runs for them.
    this.tcp.maxConnections = opts.maxConnections;
    this.tcp.on('error', (err) => opts.log.error({ err }, 'rtsp: server error'));
  }

  /** Its connection guard: RTSPS admits raw connections with it, so RTSP and RTSPS share one set of limits. */
  get guard(): ConnectionGuard {
    return this.connections.guard;
  }

  /** A connection from another listener (RTSPS, decrypted), with its raw connection's admission: served as one of the RTSP port's own. */
  acceptConnection(socket: TLSSocket, admission: Admission): void {
    this.connections.accept(socket, admission);
  }

  get log(): Logger {
    return this.opts.log;
  }
  get idleTimeoutMs(): number {
    return this.opts.idleTimeoutMs;
  }

  get headTimeoutMs(): number {
    return this.opts.headTimeoutMs ?? HEAD_TIMEOUT_MS;
  }

  get port(): number {
    const a = this.tcp.address();
    return typeof a === 'object' && a ? a.port : this.opts.port;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.opts.port, this.opts.host, () => {
        this.tcp.off('error', reject);
        resolve();
      });
    });
    this.timer = setInterval(() => this.tick(), TIMEOUT_CHECK_MS);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of [...this.sessions.values()]) s.teardown('server stopping');
    this.connections.close();
    for (const p of this.streamPackets.values()) p.release();
    this.streamPackets.clear();
    this.udp?.rtp.close();
    this.udp?.rtcp.close();
    this.udp = undefined;
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }

  authenticate(req: AuthRequest): Promise<AuthResult> {
    return this.opts.auth.check(req);
  }

  /** Maps a request URL to a configured stream (path, optionally followed by `/trackID=0`). */
  resolve(url: string): StreamTarget | undefined {
    let path: string;
    let origin: string;
    try {
      const u = new URL(url);
      if (u.protocol !== 'rtsp:' && u.protocol !== 'rtsps:') return undefined;
      // Its host goes back in Content-Base: a host name, an address or [IPv6], as HTTP's Host.
      if (!isValidHostHeader(u.host)) return undefined;
      path = decodeURIComponent(u.pathname);
      origin = `${u.protocol}//${u.host}`;
    } catch {
      return undefined;
    }
    path = path.replace(/\/+$/, '');
    for (const s of this.opts.streams()) {
      if (path === s.path) return { settings: s, base: origin + s.path };
      if (path.startsWith(s.path + '/')) return { settings: s, base: origin + s.path, track: path.slice(s.path.length + 1) };
    }
    return undefined;
  }

  parameters(stream: string, timeoutMs: number): Promise<CodecParameters> {
    return this.opts.hub.waitForParameters(stream, timeoutMs);
  }

  createSession(stream: string, caller: Caller, conn: RtspConnection, negotiated: CodecParameters): RtspSession | { refused: string } {
    const slot = this.slots.acquire(caller.username);
    if (!slot.ok) {
      this.logThrottle.log(
        this.log,
        'warn',
        `session limit ${caller.username}`,
        { client: conn.remoteAddress, user: caller.username },
        `rtsp: SETUP refused: ${slot.message}`,
      );
      return { refused: slot.message };
    }
    let samples = this.latency.get(stream);
    if (!samples) this.latency.set(stream, (samples = new LatencySamples()));
    const s = new RtspSession({
      stream,
      caller,
      ownerId: conn.id,
      remoteAddress: conn.remoteAddress,
      hub: this.opts.hub,
      packets: this.packets(stream),
      limits: this.opts.limits,
      negotiated,
      timeoutMs: this.opts.sessionTimeoutMs,
      sink: {
        socket: conn.socket,
        sendUdp: (packet, port, address) => this.udp?.rtp.send(packet, port, address),
        sendUdpRtcp: (packet, port, address) => this.udp?.rtcp.send(packet, port, address),
      },
      events: this.sessionEvents(conn, slot.release),
      latency: samples,
    });
    this.sessions.set(s.id, s);
    return s;
  }

  findSession(id: string): RtspSession | undefined {
    return this.sessions.get(id);
  }

  /** What the server does when a session starts, ends or stalls. */
  private sessionEvents(conn: RtspConnection, releaseSlot: () => void): SessionEvents {
    return {
      started: (s) => {
        this.opts.hooks.clientConnected.call(this.clientInfo(s));
        this.opts.log.info(
          { session: s.id, stream: s.stream, client: s.remoteAddress, user: s.caller.username, transport: s.transport?.kind },
          'rtsp: playing',
        );
      },
      closed: (s, reason, started) => {
        this.sessions.delete(s.id);
        releaseSlot();
        if (!started) return;
        this.opts.hooks.clientDisconnected.call(this.clientInfo(s));
        this.opts.log.info(
          { session: s.id, stream: s.stream, client: s.remoteAddress, reason, bytes: s.bytes, drops: s.framesDropped },
          'rtsp: session closed',
        );
      },
      stalled: (s) => {
        this.opts.log.warn({ session: s.id, client: s.remoteAddress }, 'rtsp: reader stalled; disconnecting it');
        conn.close();
      },
      rejected: (s, reason) => {
        // RTSP 1.0 has no way to renegotiate a playing session: the session ends. The client hears it
        // as an RTCP BYE carrying the reason (ffmpeg ends its input, GStreamer its stream), then its
        // connection closes; a new DESCRIBE gets the new codec.
        this.opts.log.warn({ session: s.id, stream: s.stream, client: s.remoteAddress, reason }, 'rtsp: ending a session: codec changed');
        const p = this.streamPackets.get(s.stream)?.packets;
        if (p) {
          const sr = buildSenderReport({
            ssrc: p.ssrc,
            ntpMs: p.last?.captureTimeMs ?? Date.now(),
            rtpTimestamp: p.last?.rtpTimestamp ?? 0,
            packetCount: s.packets,
            octetCount: s.payloadOctets,
            cname: 'camd',
          });
          s.sendRtcp(Buffer.concat([sr, buildBye(p.ssrc, reason)]));
        }
        s.teardown(reason);
        conn.endIfIdle();
      },
    };
  }

  private packets(stream: string): StreamPackets {
    let p = this.streamPackets.get(stream);
    if (!p) {
      p = acquireStreamPackets(this.opts.hub, stream);
      this.streamPackets.set(stream, p);
    }
    return p.packets;
  }

  /** The shared UDP pair (RTP on an even port, RTCP on the next), bound on first use. */
  udpPorts(): { rtp: number; rtcp: number } | undefined {
    return this.udp ? { rtp: this.udp.rtpPort, rtcp: this.udp.rtcpPort } : undefined;
  }

  async bindUdp(): Promise<void> {
    for (let attempt = 0; attempt < 20 && !this.udp; attempt++) {
      const rtp = createSocket('udp4');
      const rtcp = createSocket('udp4');
      try {
        await new Promise<void>((res, rej) => {
          rtp.once('error', rej);
          rtp.bind(0, this.opts.host === '0.0.0.0' ? undefined : this.opts.host, () => res());
        });
        const port = rtp.address().port;
        if (port % 2 !== 0 || port === 65535) throw new Error('odd port');
        await new Promise<void>((res, rej) => {
          rtcp.once('error', rej);
          rtcp.bind(port + 1, this.opts.host === '0.0.0.0' ? undefined : this.opts.host, () => res());
        });
        rtp.on('error', () => undefined);
        rtcp.on('error', () => undefined);
        rtcp.on('message', (msg, rinfo) => this.onUdpRtcp(msg, rinfo.address, rinfo.port));
        this.udp = { rtp, rtcp, rtpPort: port, rtcpPort: port + 1 };
      } catch {
        rtp.close();
        rtcp.close();
      }
    }
    if (!this.udp) this.opts.log.error('rtsp: could not bind a UDP port pair; only TCP transport is available');
  }

  onRtcp(s: RtspSession, data: Buffer): void {
    s.touch();
    const rtcp = parseRtcp(data);
    const packets = this.streamPackets.get(s.stream)?.packets;
    // Only a playing session receives the stream, so only its reports speak about it: one that was
    // SETUP but never PLAYed (or is paused) reports on nothing, and ABR never hears it.
    const reports = s.state === 'playing' ? rtcp.reports : [];
    for (const rb of reports) {
      if (packets && rb.ssrc !== packets.ssrc) continue;
      this.opts.hooks.networkFeedback.call({
        stream: s.stream,
        clientId: s.id,
        transport: `rtsp/${s.transport?.kind ?? 'tcp'}`,
        packetLoss: rb.fractionLost,
        jitterMs: rb.jitter / 90,
        rttMs: rttMs(rb, Date.now()),
        receivedAt: Date.now(),
      });
    }
    if (rtcp.bye) s.teardown('RTCP BYE');
  }

  private onUdpRtcp(msg: Buffer, address: string, port: number): void {
    for (const s of this.sessions.values()) {
      const t = s.transport;
      if (t?.kind === 'udp' && t.address === address.replace(/^::ffff:/, '') && t.rtcpPort === port) {
        this.onRtcp(s, msg);
        return;
      }
    }
  }

  /**
   * Timeouts: a session that went quiet (UDP, one whose connection is gone, and one that is not
   * playing: its client's keep-alives refresh it), and one that was SETUP and never PLAYed in time
   * (whatever keep-alives it gets: a session slot is for a reader). Sender reports every 5 s.
   */
  private tick(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      const quiet = s.transport?.kind === 'udp' || s.state !== 'playing' || !this.connections.has(s.ownerId);
      if (quiet && now - s.lastSeen > this.opts.sessionTimeoutMs) s.teardown('timeout');
      else if (!s.played && now - s.createdAt > this.opts.playTimeoutMs) {
        this.logThrottle.log(
          this.log,
          'info',
          `not played ${s.remoteAddress}`,
          { session: s.id, client: s.remoteAddress, user: s.caller.username },
          `rtsp: ending a session not played within ${this.opts.playTimeoutMs / 1000} s of its SETUP`,
        );
        s.teardown('not played in time');
      }
    }
    if (now - this.lastReports < SR_INTERVAL_MS) return;
    this.lastReports = now;
    for (const s of this.sessions.values()) {
      if (s.state !== 'playing' || !s.transport) continue;
      const p = this.streamPackets.get(s.stream)?.packets;
      if (!p?.last) continue;
      s.sendRtcp(
        buildSenderReport({
          ssrc: p.ssrc,
          ntpMs: p.last.captureTimeMs,
          rtpTimestamp: p.last.rtpTimestamp,
          packetCount: s.packets,
          octetCount: s.payloadOctets,
          cname: 'camd',
        }),
      );
    }
  }

  /** Per-stream figures for `/api/stats`. */
  statsFor(stream: string): {
    sessions: number;
    serverLatencyUs: { p50: number; p99: number; samples: number } | null;
    clients: Array<Record<string, unknown>>;
  } {
    const clients = [...this.sessions.values()]
      .filter((s) => s.stream === stream)
      .map((s) => ({
        session: s.id,
        address: s.remoteAddress,
        user: s.caller.username,
        transport: s.transport?.kind,
        codec: s.codec,
        state: s.state,
        bytes: s.bytes,
        packets: s.packets,
        framesDropped: s.framesDropped,
        since: new Date(s.createdAt).toISOString(),
      }));
    return { sessions: clients.length, serverLatencyUs: this.latency.get(stream)?.percentiles() ?? null, clients };
  }

  private clientInfo(s: RtspSession) {
    return { id: s.id, stream: s.stream, transport: `rtsp/${s.transport?.kind ?? 'tcp'}`, remoteAddress: s.remoteAddress, username: s.caller.username };
  }
}
