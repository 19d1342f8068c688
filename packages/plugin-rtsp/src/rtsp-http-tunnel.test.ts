import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Base64Stream, classifyFirstBytes } from './http-tunnel.js';
import { ffmpegReader, ffprobe, gstLaunch, rawExchange, rtspHost, type RtspTestHost } from './test-utils.js';

describe('RTSP over HTTP (tunnelling on the RTSP port)', () => {
  let h: RtspTestHost;
  beforeAll(async () => {
    h = await rtspHost();
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('ffmpeg (-rtsp_transport http) and GStreamer (rtsph://) play through the tunnel', async () => {
    expect((await ffprobe(h.url(), 'http')).streams?.[0]).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    const u = new URL(h.url());
    const gst = await gstLaunch(
      [
        'rtspsrc',
        `location=rtsph://127.0.0.1:${u.port}${u.pathname}`,
        `user-id=${h.users.viewer.username}`,
        `user-pw=${h.users.viewer.password}`,
        '!',
        'rtph264depay',
        '!',
        'h264parse',
        '!',
        'fakesink',
        'num-buffers=30',
      ],
      { timeout: 30_000 },
    );
    expect(gst.stderr).toBe('');
  });

  it('a tunnelled reader is a session like any other: it plays beside a plain one, counts, and leaves no session behind', async () => {
    const tunnelled = ffmpegReader(h.url(), 'http');
    const plain = ffmpegReader(h.url(), 'tcp');
    try {
      await expect.poll(() => Math.min(tunnelled.frames(), plain.frames()), { timeout: 20_000, interval: 500 }).toBeGreaterThan(15);
      const stats = (await (await h.fetch('/api/stats')).json()) as Record<string, { clientCount: number }>;
      expect(stats.stream1!.clientCount).toBe(2);
    } finally {
      await tunnelled.stop();
      await plain.stop();
    }
    await expect
      .poll(async () => ((await (await h.fetch('/api/stats')).json()) as Record<string, { clientCount: number }>).stream1!.clientCount, { timeout: 10_000 })
      .toBe(0);
  });

  it('refuses wrong credentials, a GET without cookie, a POST without its GET, and non-base64 bodies; plain RTSP keeps serving', async () => {
    expect((await ffprobe(h.url('/stream1', { username: 'viewer', password: 'wrong' }), 'http')).error).toMatch(/401/);
    expect(await rawExchange(h.rtspPort, 'GET /stream1 HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n')).toMatch(
      /^HTTP\/1\.0 400 Bad Request[\s\S]*x-sessioncookie/,
    );
    expect(await rawExchange(h.rtspPort, 'POST /stream1 HTTP/1.0\r\nx-sessioncookie: nope\r\nContent-Length: 32767\r\n\r\nT1BUSU9O')).toMatch(
      /^HTTP\/1\.0 404 Not Found/,
    );
    expect(await rawExchange(h.rtspPort, `GET /x HTTP/1.1\r\n${'X-Pad: y\r\n'.repeat(1000)}`)).toMatch(/^HTTP\/1\.0 431/);

    // A GET side, then a POST whose body is not base64: the tunnel closes.
    const get = connect(h.rtspPort, '127.0.0.1');
    let answer = '';
    const closed = new Promise<void>((r) => get.on('close', () => r()));
    get.on('data', (d) => (answer += d.toString('latin1')));
    get.on('error', () => undefined);
    await new Promise<void>((r) => get.on('connect', () => r()));
    get.write('GET /stream1 HTTP/1.0\r\nx-sessioncookie: abc123\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n');
    await expect.poll(() => answer, { timeout: 5000 }).toMatch(/^HTTP\/1\.0 200 OK[\s\S]*application\/x-rtsp-tunnelled/);
    expect(await rawExchange(h.rtspPort, 'GET /stream1 HTTP/1.0\r\nx-sessioncookie: abc123\r\n\r\n')).toMatch(/^HTTP\/1\.0 409/);
    await rawExchange(h.rtspPort, 'POST /stream1 HTTP/1.0\r\nx-sessioncookie: abc123\r\n\r\n<<not base64>>');
    await closed;

    expect((await ffprobe(h.url())).streams?.[0]?.width).toBe(320);
  });
});

describe('tunnel framing', () => {
  it('tells RTSP from the sides of an HTTP tunnel, waiting for whole heads', () => {
    expect(classifyFirstBytes(Buffer.from('OPTIONS rtsp://x/ RTSP/1.0\r\n'))).toEqual({ kind: 'rtsp' });
    expect(classifyFirstBytes(Buffer.from('GET_PARAMETER rtsp://x/ RTSP/1.0\r\n'))).toEqual({ kind: 'rtsp' });
    expect(classifyFirstBytes(Buffer.from('GE'))).toEqual({ kind: 'incomplete' });
    expect(classifyFirstBytes(Buffer.from('GET / HTTP/1.0\r\nx-sessioncookie: a'))).toEqual({ kind: 'incomplete' });
    expect(classifyFirstBytes(Buffer.from('POST /s HTTP/1.0\r\nX-SessionCookie: k1\r\n\r\nQUJD'))).toMatchObject({
      kind: 'http',
      method: 'POST',
      cookie: 'k1',
      rest: Buffer.from('QUJD'),
    });
  });

  it('decodes base64 split anywhere, with each request padded on its own', () => {
    const d = new Base64Stream();
    const text = Buffer.from('T1BUSU9OUyBydHNwOi8v').toString() + Buffer.from('x').toString('base64') + Buffer.from('yz').toString('base64');
    const out = [...text].map((ch) => d.push(Buffer.from(ch))!);
    expect(Buffer.concat(out).toString()).toBe('OPTIONS rtsp://xyz');
    expect(new Base64Stream().push(Buffer.from('QUJD\r\nREVG'))!.toString()).toBe('ABCDEF');
    expect(new Base64Stream().push(Buffer.from('QU*D'))).toBeUndefined();
  });
});
