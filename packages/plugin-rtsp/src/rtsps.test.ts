import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from './index.js';
import { run } from './test-utils.js';

const VIEWER = 'viewer:viewer-secret';

describe('plugin-rtsp: RTSPS (RTSP over TLS) with real clients', () => {
  let h: TestHost;
  let port: number;
  let caFile: string;
  beforeAll(async () => {
    port = await freePort();
    h = await createTestHost({
      plugins: [{ def: rtsp, options: { port: await freePort(), tlsPort: port, host: '127.0.0.1' } }],
      config: { http: { tls: { port: 0 } }, streams: [testStream({ path: '/stream1', resolution: '320x240', fps: 15 })] },
    });
    caFile = h.host.tls.certificates!.current.certFile;
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  const url = (cred = VIEWER) => `rtsps://${cred}@127.0.0.1:${port}/stream1`;

  it('ffprobe reads H.264 over rtsps://; plain RTSP on the RTSPS port gets nothing', async () => {
    // Debian's ffmpeg 5.1 opens an RTSPS connection without its -tls_verify/-ca_file (rtsp.c passes no
    // options to its tls protocol), so it cannot check the certificate: GStreamer and Node do, below.
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', url()], { timeout: 30_000 });
    expect(JSON.parse(stdout).streams[0]).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    const plain = await run('ffprobe', ['-v', 'error', `rtsp://${VIEWER}@127.0.0.1:${port}/stream1`], { timeout: 30_000 }).catch((e: { stderr: string }) => e);
    expect((plain as { stderr?: string }).stderr).toBeTruthy();
  });

  it('GStreamer rtspsrc verifies the certificate against its TLS database and decodes frames', async () => {
    expect(await gstRtsps(caFile, 'tcp+udp')).toMatch(/^frames 20/m);
  });

  it('GStreamer refuses the server when its TLS database does not hold the certificate', async () => {
    // rtspsrc reports a refused certificate as "Failed to connect"; the same call with camd's own
    // certificate as the database (above) plays.
    const out = await gstRtsps('/etc/ssl/certs/ca-certificates.crt', 'tcp');
    expect(out).toMatch(/^error [\s\S]*Failed to connect/m);
    expect(out).toMatch(/^frames 0$/m);
  });

  it('UDP is refused over RTSPS with 461; a client offering UDP and TCP gets TCP, interleaved in the TLS connection', async () => {
    expect(await gstRtsps(caFile, 'udp')).toMatch(/^error /m);
    const raw = await exchangeTls(
      `SETUP rtsps://127.0.0.1:${port}/stream1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic ${Buffer.from(VIEWER).toString('base64')}\r\nTransport: RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
    );
    expect(raw).toMatch(/^RTSP\/1\.0 200/);
    expect(raw).toMatch(/Transport: RTP\/AVP\/TCP;unicast;interleaved=0-1/);
    const udpOnly = await exchangeTls(
      `SETUP rtsps://127.0.0.1:${port}/stream1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic ${Buffer.from(VIEWER).toString('base64')}\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`,
    );
    expect(udpOnly).toMatch(/^RTSP\/1\.0 461[\s\S]*X-Reason: RTSPS sends RTP interleaved/);
  });

  /** GStreamer's rtspsrc on rtsps:// with `ca` as its TLS database (set from Python: gst-launch cannot make one). */
  async function gstRtsps(ca: string, protocols: string): Promise<string> {
    const script = `
import sys, gi
gi.require_version('Gst', '1.0')
from gi.repository import Gst, Gio
Gst.init(None)
p = Gst.parse_launch('rtspsrc name=src location=rtsps://127.0.0.1:${port}/stream1 user-id=viewer user-pw=viewer-secret latency=0 protocols=' + sys.argv[2] + ' ! rtph264depay ! h264parse ! avdec_h264 ! fakesink name=sink num-buffers=20 signal-handoffs=true')
p.get_by_name('src').set_property('tls-database', Gio.TlsFileDatabase.new(sys.argv[1]))
frames = []
p.get_by_name('sink').connect('handoff', lambda s, b, pad: frames.append(1))
p.set_state(Gst.State.PLAYING)
msg = p.get_bus().timed_pop_filtered(25 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
p.set_state(Gst.State.NULL)
if msg and msg.type == Gst.MessageType.ERROR:
    err, dbg = msg.parse_error()
    print('error', err.message, dbg)
print('frames', len(frames))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, ca, protocols], { timeout: 40_000 });
    return stdout;
  }

  it('serves the certificate whose fingerprint the daemon reports', async () => {
    const fp = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca: h.host.tls.certificates!.current.cert, servername: 'localhost' }, () => {
        resolve(s.getPeerX509Certificate()!.fingerprint256);
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(fp).toBe(h.host.tls.certificates!.current.fingerprint);
  });

  function exchangeTls(data: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = '';
      const s = tlsConnect({ host: '127.0.0.1', port, ca: h.host.tls.certificates!.current.cert }, () => s.write(data));
      s.on('data', (d) => {
        out += d.toString('latin1');
        if (out.includes('\r\n\r\n')) {
          s.destroy();
          resolve(out);
        }
      });
      s.on('error', reject);
    });
  }
});
