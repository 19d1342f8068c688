import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { buildSenderReport, PAYLOAD_TYPE, videoMediaSection, type CodecParameters, type EncodedFrame, type StreamPackets } from '@camd/core';
import { ClientAuth, parseChallenges } from './auth-client.js';
import { header, interleave, parseTransport, RtspReader, RtspWireError, type RtspMessage } from './rtsp-wire.js';
import { drainedOrClosed, PublishError, type PublishSink } from './sink.js';
import { scrub, type ParsedTarget } from './targets.js';
import { socketError, targetCa, tlsOptions } from './tls.js';

export interface RtspRecordOptions {
  readonly target: ParsedTarget;
  /** The stream's format when the target connected: the SDP announces this codec (a change makes the target announce again). */
  readonly params: CodecParameters;
  /** The stream's shared RTP packets (`acquireStreamPackets`): frames are packetised once for every reader and target. */
  readonly packets: StreamPackets;
  /** Connecting and each request/answer, at most this long. */
  readonly timeoutMs: number;
}

/** The track's control name in our SDP (what rtspclientsink uses too); SETUP appends it to the URL. */
const CONTROL = 'stream=0';
const SENDER_REPORT_MS = 5000;
/** Keep-alive when the server's `Session` names no timeout (RFC 2326's default is 60 s). */
const DEFAULT_SESSION_TIMEOUT_S = 60;

type Pending = { cseq: number; resolve: (m: Extract<RtspMessage, { kind: 'response' }>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/**
 * An RTSP RECORD client (RFC 2326 §10.11): ANNOUNCE with the stream's SDP, SETUP with
 * `mode=record` (TCP interleaved, or UDP with `?transport=udp`), RECORD, then RTP from the stream's
 * shared packetiser and an RTCP sender report every 5 s. Digest or Basic when the server asks.
 */
export class RtspRecordSink implements PublishSink {
  onFailure?: (err: PublishError) => void;
  private socket?: Socket;
  private rtp?: UdpSocket;
  private rtcp?: UdpSocket;
  private serverPorts?: [number, number];
  private readonly reader = new RtspReader();
  private cseq = 0;
  private pending?: Pending;
  private chain: Promise<unknown> = Promise.resolve();
  private session?: string;
  private channel = 0;
  private auth?: ClientAuth;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private failed = false;
  private opened = false;
  private sent = 0;
  private packetCount = 0;
  private octetCount = 0;
  private last?: { rtpTimestamp: number; captureTimeMs: number };

  constructor(private readonly o: RtspRecordOptions) {
    if (o.target.username !== undefined) this.auth = new ClientAuth(o.target.username, o.target.password ?? '');
  }

  get bytesSent(): number {
    return this.sent;
  }

  async open(): Promise<void> {
    const { target } = this.o;
    const url = target.url;
    await this.connect(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port));
    const base = url.href;
    const sdp = this.sdp();
    await this.request('ANNOUNCE', base, { 'Content-Type': 'application/sdp' }, Buffer.from(sdp));
    // The track's URL is the base path plus its control name; a query (some servers take options
    // there) stays at the end, as servers that resolve control URLs expect.
    const track = new URL(base);
    track.pathname = `${track.pathname.replace(/\/$/, '')}/${CONTROL}`;
    const trackUrl = track.href;
    let transport: string;
    if (target.transport === 'udp') {
      const [a, b] = await this.bindUdp();
      transport = `RTP/AVP;unicast;client_port=${a}-${b};mode=record`;
    } else {
      transport = 'RTP/AVP/TCP;unicast;interleaved=0-1;mode=record';
    }
    const setup = await this.request('SETUP', trackUrl, { Transport: transport });
    const sessionHeader = header(setup.headers, 'session');
    if (!sessionHeader) throw new PublishError('protocol', 'SETUP was answered without a Session');
    const [id, ...attrs] = sessionHeader.split(';');
    this.session = id!.trim();
    const timeoutS = Number(/timeout=(\d+)/.exec(attrs.join(';'))?.[1] ?? DEFAULT_SESSION_TIMEOUT_S);
    const tr = parseTransport(header(setup.headers, 'transport'));
    if (target.transport === 'udp') {
      if (!tr.serverPort) throw new PublishError('protocol', 'SETUP (UDP) was answered without server_port');
      this.serverPorts = tr.serverPort;
    } else {
      this.channel = tr.interleaved?.[0] ?? 0;
    }
    await this.request('RECORD', base, { Range: 'npt=0.000-' });
    this.opened = true;
    // Servers drop a session that sends nothing on its control connection for `timeout` s (RTP
    // alone does not count for every server): an OPTIONS at half the timeout keeps it.
    const keepAlive = setInterval(() => void this.request('OPTIONS', base, {}).catch((err) => this.fail(err)), Math.max(1000, (timeoutS * 1000) / 2));
    const reports = setInterval(() => this.senderReport(), SENDER_REPORT_MS);
    keepAlive.unref();
    reports.unref();
    this.timers.push(keepAlive, reports);
  }

  write(frame: EncodedFrame): boolean {
    if (this.closed || this.failed || !this.opened) return true;
    const packets = this.o.packets.packetsOf(frame);
    for (const p of packets) {
      this.packetCount++;
      this.octetCount += p.length - 12;
    }
    this.last = { rtpTimestamp: frame.rtpTimestamp, captureTimeMs: frame.captureTimeMs };
    if (this.rtp && this.serverPorts) {
      const host = this.socket!.remoteAddress!;
      for (const p of packets) {
        this.rtp.send(p, this.serverPorts[0], host);
        this.sent += p.length;
      }
      return true;
    }
    const buf = interleave(this.channel, packets);
    this.sent += buf.length;
    return this.socket!.write(buf);
  }

  drained(): Promise<void> {
    const s = this.socket;
    return !s || this.closed || this.failed ? Promise.resolve() : drainedOrClosed(s);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.pending?.reject(new PublishError('network', 'closed'));
    const s = this.socket;
    if (s && !s.destroyed && this.session && !this.failed) {
      // TEARDOWN lets the server end its recording at once instead of after the session timeout.
      s.write(this.requestText('TEARDOWN', this.o.target.url.href, { Session: this.session }));
      s.end();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, 1000);
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
    } else {
      s?.destroy();
    }
    this.rtp?.close();
    this.rtcp?.close();
  }

  private sdp(): string {
    const host = this.o.target.url.hostname;
    const ipv6 = host.startsWith('[');
    return [
      'v=0',
      `o=- ${Date.now()} 1 IN ${ipv6 ? 'IP6' : 'IP4'} ${ipv6 ? '::1' : '127.0.0.1'}`,
      's=camd',
      `c=IN ${ipv6 ? 'IP6 ::' : 'IP4 0.0.0.0'}`,
      't=0 0',
      // The stream's codec as core describes it to its own RTSP readers (H.264, H.265 or JPEG), with
      // the payload type its shared packetiser writes.
      ...videoMediaSection({ payloadType: PAYLOAD_TYPE[this.o.params.codec], params: this.o.params, control: CONTROL }),
      '',
    ].join('\r\n');
  }

  private async connect(host: string, port: number): Promise<void> {
    // rtsps://: the server's certificate is verified (chain and name) against the default roots or the target's `ca`.
    const ca = this.o.target.tls ? await targetCa(this.o.target) : undefined;
    // Closed while the ca file was read: no socket that nothing would close.
    if (this.closed) throw new PublishError('network', 'closed');
    return new Promise((resolve, reject) => {
      const s = this.o.target.tls ? tlsConnect(tlsOptions(host, port, ca)) : netConnect({ host, port });
      this.socket = s;
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new PublishError('network', `no connection to ${host}:${port} within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      s.once(this.o.target.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      s.on('error', (err) => {
        clearTimeout(timer);
        const e = socketError(err, this.o.target, host, port);
        reject(e);
        this.fail(e);
      });
      s.on('close', () => this.fail(new PublishError('network', 'the server closed the connection')));
      s.on('data', (chunk: Buffer) => this.onData(chunk));
    });
  }

  private async bindUdp(): Promise<[number, number]> {
    // RTP on an even port, RTCP on the next one (RFC 3550 §11): try a few pairs the kernel hands out.
    for (let attempt = 0; attempt < 10; attempt++) {
      const rtp = createSocket('udp4');
      await new Promise<void>((resolve, reject) => rtp.once('error', reject).bind(0, () => resolve()));
      const port = rtp.address().port;
      if (port % 2 === 1 || port === 65535) {
        rtp.close();
        continue;
      }
      const rtcp = createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        rtcp.once('error', () => resolve(false));
        rtcp.bind(port + 1, () => resolve(true));
      });
      if (!ok) {
        rtp.close();
        rtcp.close();
        continue;
      }
      // Receiver reports from the server are not needed to publish; reading them keeps buffers empty.
      rtcp.on('message', () => undefined);
      rtp.on('error', (err) => this.fail(new PublishError('network', `RTP socket: ${err.message}`)));
      this.rtp = rtp;
      this.rtcp = rtcp;
      return [port, port + 1];
    }
    throw new PublishError('network', 'no free pair of UDP ports for RTP/RTCP');
  }

  private senderReport(): void {
    if (!this.last || this.closed || this.failed) return;
    const sr = buildSenderReport({
      ssrc: this.o.packets.ssrc,
      ntpMs: this.last.captureTimeMs,
      rtpTimestamp: this.last.rtpTimestamp,
      packetCount: this.packetCount,
      octetCount: this.octetCount,
      cname: 'camd',
    });
    if (this.rtcp && this.serverPorts) this.rtcp.send(sr, this.serverPorts[1], this.socket!.remoteAddress!);
    else this.socket?.write(interleave(this.channel + 1, [sr]));
    this.sent += sr.length;
  }

  private onData(chunk: Buffer): void {
    let messages: RtspMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      this.fail(new PublishError('protocol', `the server sent ${err instanceof RtspWireError ? err.message : 'garbage'}`));
      return;
    }
    for (const m of messages) {
      if (m.kind === 'response') {
        const p = this.pending;
        if (p && Number(header(m.headers, 'cseq')) === p.cseq) {
          this.pending = undefined;
          clearTimeout(p.timer);
          p.resolve(m);
        }
      } else if (m.kind === 'request') {
        // A server may ask something of its publisher (OPTIONS, GET_PARAMETER as a ping): answer briefly.
        const ok = m.method === 'OPTIONS' || m.method === 'GET_PARAMETER';
        this.socket?.write(`RTSP/1.0 ${ok ? '200 OK' : '501 Not Implemented'}\r\nCSeq: ${header(m.headers, 'cseq') ?? '0'}\r\n\r\n`);
      }
      // Interleaved RTCP receiver reports are read and dropped.
    }
  }

  /** One request at a time (RTSP/1.0 over one connection); answers a 401 once with credentials. */
  private request(method: string, uri: string, headers: Record<string, string>, body?: Buffer): Promise<Extract<RtspMessage, { kind: 'response' }>> {
    const run = async () => {
      let res = await this.send(method, uri, headers, body);
      if (res.status === 401) {
        if (!this.auth) throw new PublishError('auth', `${method} needs credentials (401) and the URL has none`);
        // First challenge, a new nonce or a stale one: answer it once. A second 401 is a refusal.
        if (!this.auth.accept(parseChallenges(res.headers.get('www-authenticate') ?? []))) {
          throw new PublishError('auth', `${method}: the server asks for an authentication camd does not speak`);
        }
        res = await this.send(method, uri, headers, body);
        if (res.status === 401) throw new PublishError('auth', `${method}: the server refused the credentials (401 ${res.reason})`);
      }
      if (res.status < 200 || res.status >= 300) throw new PublishError('refused', this.clean(`${method} answered ${res.status} ${res.reason}`));
      return res;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private send(method: string, uri: string, headers: Record<string, string>, body?: Buffer): Promise<Extract<RtspMessage, { kind: 'response' }>> {
    if (this.closed || this.failed || !this.socket || this.socket.destroyed) return Promise.reject(new PublishError('network', 'not connected'));
    const cseq = ++this.cseq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new PublishError('network', `no answer to ${method} within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      this.pending = { cseq, resolve, reject, timer };
      const text = this.requestText(method, uri, headers, body, cseq);
      this.socket!.write(body ? Buffer.concat([Buffer.from(text), body]) : text);
    });
  }

  private requestText(method: string, uri: string, headers: Record<string, string>, body?: Buffer, cseq = ++this.cseq): string {
    const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${cseq}`, 'User-Agent: camd'];
    if (this.session && method !== 'SETUP') lines.push(`Session: ${this.session}`);
    const auth = this.auth?.header(method, uri);
    if (auth) lines.push(`Authorization: ${auth}`);
    for (const [k, v] of Object.entries(headers)) if (!(k === 'Session' && this.session)) lines.push(`${k}: ${v}`);
    if (body) lines.push(`Content-Length: ${body.length}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  }

  private clean(text: string): string {
    return scrub(text, this.o.target.secrets);
  }

  private fail(err: PublishError | Error): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    const e = err instanceof PublishError ? err : new PublishError('network', this.clean(err.message));
    this.pending?.reject(e);
    this.pending = undefined;
    for (const t of this.timers) clearInterval(t);
    this.socket?.destroy();
    if (this.opened) this.onFailure?.(e);
  }
}
