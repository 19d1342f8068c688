import { header, RtspClient, RtspCredentials, type Credentials } from './rtsp-client.js';

export interface BenchReaderOptions {
  /** Connect from this address (a legitimate client on 127.0.0.2 while 127.0.0.1 attacks). */
  localAddress?: string;
  /** Basic (default) or Digest. */
  scheme?: 'basic' | 'digest';
  /** Send an RTCP receiver report on the interleaved RTCP channel this often (default: none). */
  receiverReportMs?: number;
  /** The fraction lost the receiver reports claim (0..1; default 0). */
  reportedLoss?: number;
  /** Each request must be answered within this time (default 10 s). */
  timeoutMs?: number;
  /** For an `rtsps://` URL: the CA (PEM) the server's certificate is verified against. */
  ca?: string;
}

/**
 * A minimal RTSP/TCP reader for load benchmarks: DESCRIBE, SETUP (interleaved), PLAY, then counts
 * frames (RTP marker bits) without decoding, so a hundred of them fit in one process. Optionally it
 * sends receiver reports (honest ones, or forged ones claiming loss).
 */
export class BenchReader {
  frames = 0;
  bytes = 0;
  /** When the first frame arrived (performance.now()), if one did. */
  firstFrameAt?: number;
  /** The stream's SSRC, from the SETUP answer. */
  ssrc?: number;
  reportsSent = 0;
  /** Called with the RTP timestamp of each frame's last packet (marker bit) as it arrives. */
  onFrame?: (rtpTimestamp: number) => void;
  private client?: RtspClient;
  private rrTimer?: NodeJS.Timeout;
  private highestSeq = 0;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly auth?: Credentials,
    private readonly opts: BenchReaderOptions = {},
  ) {}

  /** Resolves once PLAY is answered 200; rejects with what went wrong (connection, status, timeout). */
  async start(): Promise<void> {
    const u = new URL(this.url);
    const c = await RtspClient.connect(Number(u.port), {
      host: u.hostname,
      localAddress: this.opts.localAddress,
      timeoutMs: this.opts.timeoutMs,
      tls: u.protocol === 'rtsps:' ? { ca: this.opts.ca } : undefined,
    });
    this.client = c;
    if (this.stopped) c.close();
    c.onInterleaved = (channel, d) => {
      this.bytes += d.length;
      if (channel !== 0) return;
      if (d.length > 12) this.highestSeq = d.readUInt16BE(2);
      if (d.length > 12 && d[1]! & 0x80) {
        this.frames++;
        this.firstFrameAt ??= performance.now();
        this.onFrame?.(d.readUInt32BE(4));
      }
    };
    const creds = this.auth ? new RtspCredentials(this.auth, this.opts.scheme ?? 'basic') : undefined;
    const ask = async (method: string, url: string, headers: Record<string, string> = {}) => {
      const a = creds ? await c.authedRequest(creds, method, url, headers, this.opts.timeoutMs) : await c.request(method, url, headers, this.opts.timeoutMs);
      if (a.status !== 200) throw new Error(`${method} answered ${a.status}`);
      return a;
    };
    const sdp = await ask('DESCRIBE', this.url, { Accept: 'application/sdp' });
    const base = header(sdp, 'content-base') ?? `${this.url}/`;
    const media = sdp.body.slice(sdp.body.indexOf('m=video'));
    const control = /a=control:(\S+)/.exec(media)?.[1] ?? 'trackID=0';
    const track = control.startsWith('rtsp://') ? control : base.replace(/\/?$/, '/') + control;
    const setup = await ask('SETUP', track, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    const session = /^([^;\s]+)/.exec(header(setup, 'session') ?? '')?.[1];
    if (!session) throw new Error('SETUP answered without a session');
    const ssrc = /ssrc=([0-9A-Fa-f]{1,8})/.exec(header(setup, 'transport') ?? '')?.[1];
    if (ssrc) this.ssrc = parseInt(ssrc, 16);
    await ask('PLAY', this.url, { Session: session });
    if (this.opts.receiverReportMs) {
      this.rrTimer = setInterval(() => this.sendReport(), this.opts.receiverReportMs);
      this.rrTimer.unref();
    }
  }

  /** An RTCP receiver report about the stream, claiming `reportedLoss`. */
  private sendReport(): void {
    if (this.ssrc === undefined || !this.client) return;
    this.reportsSent++;
    this.client.sendInterleaved(1, receiverReport(this.ssrc, this.opts.reportedLoss ?? 0, this.highestSeq));
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.rrTimer);
    this.client?.close();
  }
}

/** An RTCP RR (RFC 3550 §6.4.2) with one report block about `ssrc`: fraction lost `loss` (0..1). */
export function receiverReport(ssrc: number, loss: number, highestSeq = 0, senderSsrc = 0x0bad0bad): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0x81; // V=2, one report block
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  b.writeUInt32BE(((Math.min(255, Math.round(loss * 256)) << 24) | 0) >>> 0, 12);
  b.writeUInt32BE(highestSeq >>> 0, 16);
  return b;
}
