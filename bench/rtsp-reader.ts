import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * A minimal RTSP/TCP reader for load benchmarks: DESCRIBE, SETUP (interleaved), PLAY, then counts
 * frames (RTP marker bits) without decoding, so a hundred of them fit in one process. An `rtsps://`
 * URL connects over TLS, verifying the server against `ca`.
 */
export class BenchReader {
  frames = 0;
  bytes = 0;
  /** Called with the RTP timestamp of each frame's last packet (marker bit) as it arrives. */
  onFrame?: (rtpTimestamp: number) => void;
  private socket?: Socket;

  constructor(
    private readonly url: string,
    private readonly auth?: { username: string; password: string },
    private readonly ca?: string,
  ) {}

  async start(): Promise<void> {
    const u = new URL(this.url);
    const secure = u.protocol === 'rtsps:';
    const s: Socket = secure
      ? connectTls({ port: Number(u.port), host: u.hostname, ca: this.ca, servername: 'localhost' })
      : connect(Number(u.port), u.hostname);
    this.socket = s;
    s.on('error', () => undefined);
    await new Promise((r) => s.once(secure ? 'secureConnect' : 'connect', r));
    let buf: Buffer = Buffer.alloc(0);
    let playing = false;
    let waiter: ((text: string) => void) | undefined;
    s.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        if (playing && buf.length >= 4 && buf[0] === 0x24) {
          const len = buf.readUInt16BE(2);
          if (buf.length < 4 + len) return;
          if (buf[1] === 0 && len > 12 && buf[5]! & 0x80) {
            this.frames++;
            this.onFrame?.(buf.readUInt32BE(8));
          }
          this.bytes += len;
          buf = buf.subarray(4 + len);
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const cl = Number(/Content-Length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + cl) return;
        const text = buf.subarray(0, end + 4 + cl).toString('latin1');
        buf = buf.subarray(end + 4 + cl);
        waiter?.(text);
      }
    });
    let cseq = 0;
    const auth = this.auth ? `Authorization: Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}\r\n` : '';
    const ask = (method: string, url: string, extra = '') =>
      new Promise<string>((resolve) => {
        waiter = resolve;
        s.write(`${method} ${url} RTSP/1.0\r\nCSeq: ${++cseq}\r\n${auth}${extra}\r\n`);
      });
    const sdp = await ask('DESCRIBE', this.url, 'Accept: application/sdp\r\n');
    const base = /Content-Base: (\S+)/i.exec(sdp)?.[1] ?? `${this.url}/`;
    const media = sdp.slice(sdp.indexOf('m=video'));
    const control = /a=control:(\S+)/.exec(media)?.[1] ?? 'trackID=0';
    const track = control.startsWith('rtsp://') ? control : base.replace(/\/?$/, '/') + control;
    const setup = await ask('SETUP', track, 'Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n');
    const session = /Session: ([^;\r\n]+)/i.exec(setup)?.[1];
    if (!session) throw new Error(`SETUP failed: ${setup.split('\r\n')[0]}`);
    playing = true;
    await ask('PLAY', this.url, `Session: ${session}\r\n`);
  }

  stop(): void {
    this.socket?.destroy();
  }
}
