import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testStream, until } from '@camd/core/testing';
import { ffprobe, gstLaunch, rawExchange, rtspHost, run, type RtspTestHost } from './test-utils.js';

describe('plugin-rtsp with real clients', () => {
  let h: RtspTestHost;
  beforeAll(async () => {
    h = await rtspHost([
      testStream({ path: '/stream1', resolution: '320x240', fps: 15, profile: 'high' }),
      testStream({ path: '/stream2', resolution: '240x160', fps: 10, profile: 'main', source: 'videotestsrc:ball', bitrate: 300_000 }),
    ]);
    await h.host.hub.waitForParameters('stream1', 15_000);
    await h.host.hub.waitForParameters('stream2', 15_000);
  });
  afterAll(async () => h?.close());

  it.each(['tcp', 'udp'] as const)('ffprobe over %s with Digest sees H.264 of the configured size, rate and profile on both streams', async (transport) => {
    const s1 = await ffprobe(h.url('/stream1'), transport);
    expect(s1.streams?.[0]).toMatchObject({ codec_name: 'h264', width: 320, height: 240, profile: 'High', r_frame_rate: '15/1' });
    const s2 = await ffprobe(h.url('/stream2'), transport);
    expect(s2.streams?.[0]).toMatchObject({ codec_name: 'h264', width: 240, height: 160, profile: 'Main', r_frame_rate: '10/1' });
  });

  it('refuses a wrong password and missing credentials with 401', async () => {
    expect((await ffprobe(h.url('/stream1', { username: 'viewer', password: 'wrong' }))).error).toMatch(/401/);
    expect((await ffprobe(h.url('/stream1', null))).error).toMatch(/401/);
    expect((await ffprobe(h.url('/stream1', h.users.nobody))).error).toMatch(/403/);
  });

  it('gstreamer rtspsrc decodes frames over TCP and UDP', async () => {
    for (const protocols of ['tcp', 'udp']) {
      const { stdout } = await gstLaunch(
        [
          'rtspsrc',
          `location=rtsp://127.0.0.1:${h.rtspPort}/stream1`,
          'user-id=viewer',
          'user-pw=viewer-secret',
          `protocols=${protocols}`,
          'latency=0',
          '!',
          'rtph264depay',
          '!',
          'h264parse',
          '!',
          'avdec_h264',
          '!',
          'videoconvert',
          '!',
          'video/x-raw,format=I420',
          '!',
          'fakesink',
          'num-buffers=20',
          'sync=false',
          '-v',
        ],
        { timeout: 30_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- camd's log ---\n${h.recentLog()}`);
      });
      expect(stdout, protocols).toMatch(/width=\(int\)320, height=\(int\)240/);
    }
  });

  it('OpenCV opens the URL with credentials and reads frames of the right size', async () => {
    const script = `import cv2\ncap = cv2.VideoCapture(${JSON.stringify(h.url('/stream1'))})\nn = 0\nshape = None\nfor i in range(10):\n    ok, f = cap.read()\n    if ok:\n        n += 1\n        shape = f.shape\nprint(n, shape[1], shape[0])\n`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script], { timeout: 30_000 });
    expect(stdout.trim()).toBe('10 320 240');
  });

  it('ffmpeg -c copy writes a playable file with the expected frame count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'camd-rec-'));
    try {
      const out = join(dir, 'out.mp4');
      await run('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', h.url('/stream1'), '-c', 'copy', '-t', '5', out], { timeout: 40_000 });
      const { stdout } = await run('ffprobe', [
        '-v',
        'error',
        '-count_frames',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=nb_read_frames,width,height',
        '-of',
        'json',
        out,
      ]);
      const s = (JSON.parse(stdout) as { streams: Array<{ nb_read_frames: string; width: number }> }).streams[0]!;
      expect(s.width).toBe(320);
      // 5 s at 15 fps = 75 frames, ±5 %.
      expect(Number(s.nb_read_frames)).toBeGreaterThanOrEqual(71);
      expect(Number(s.nb_read_frames)).toBeLessThanOrEqual(79);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers protocol errors with the right status and keeps serving', async () => {
    const p = h.rtspPort;
    const url = `rtsp://127.0.0.1:${p}/stream1`;
    expect(await rawExchange(p, `OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`)).toMatch(
      /^RTSP\/1.0 200 OK\r\nCSeq: 1\r\n[\s\S]*Public: OPTIONS, DESCRIBE, SETUP, PLAY/,
    );
    expect(await rawExchange(p, `FOO ${url} RTSP/1.0\r\nCSeq: 2\r\n\r\n`)).toMatch(/^RTSP\/1.0 501 Not Implemented/);
    expect(await rawExchange(p, `RECORD ${url} RTSP/1.0\r\nCSeq: 2\r\n\r\n`)).toMatch(/^RTSP\/1.0 405/);
    expect(await rawExchange(p, `OPTIONS ${url} RTSP/1.0\r\n\r\n`)).toMatch(/^RTSP\/1.0 400/);
    expect(await rawExchange(p, 'garbage\r\n\r\n')).toMatch(/^RTSP\/1.0 400/);
    expect(await rawExchange(p, `DESCRIBE rtsp://127.0.0.1:${p}/${'a'.repeat(3000)} RTSP/1.0\r\nCSeq: 3\r\n\r\n`)).toMatch(/^RTSP\/1.0 414/);
    expect(await rawExchange(p, `OPTIONS ${url} RTSP/1.0\r\nCSeq: 4\r\n${'X-Pad: y\r\n'.repeat(100)}\r\n`)).toMatch(/^RTSP\/1.0 431/);
    expect(await rawExchange(p, `SET_PARAMETER ${url} RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 999999\r\n\r\n`)).toMatch(/^RTSP\/1.0 413/);
    const auth = `Authorization: Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}\r\n`;
    expect(await rawExchange(p, `DESCRIBE rtsp://127.0.0.1:${p}/nope RTSP/1.0\r\nCSeq: 6\r\n${auth}\r\n`)).toMatch(/^RTSP\/1.0 404/);
    expect(await rawExchange(p, `PLAY ${url} RTSP/1.0\r\nCSeq: 7\r\n${auth}Session: 1234\r\n\r\n`)).toMatch(/^RTSP\/1.0 454/);
    expect(await rawExchange(p, `SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 8\r\n${auth}Transport: RTP/AVP;multicast\r\n\r\n`)).toMatch(/^RTSP\/1.0 461/);
    // The server is still fine.
    expect((await ffprobe(h.url('/stream1'))).streams?.[0]?.width).toBe(320);
  });

  it('rejects PLAY before SETUP, a second SETUP of the track, and a session used from another connection', async () => {
    const p = h.rtspPort;
    const url = `rtsp://127.0.0.1:${p}/stream1`;
    const auth = `Authorization: Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}\r\n`;
    const sock = connect(p, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let buf = '';
    sock.on('data', (d) => (buf += d.toString('latin1')));
    const ask = async (req: string) => {
      buf = '';
      sock.write(req);
      for (let i = 0; i < 100 && !buf.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
      return buf;
    };
    const setup = await ask(`SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n${auth}Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    expect(setup).toMatch(/^RTSP\/1.0 200/);
    const session = /Session: ([0-9a-f]+)/.exec(setup)![1]!;
    expect(
      await ask(`SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n${auth}Session: ${session}\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n\r\n`),
    ).toMatch(/^RTSP\/1.0 455/);
    // The same session id on another connection, even with valid credentials, is refused.
    expect(await rawExchange(p, `PLAY ${url} RTSP/1.0\r\nCSeq: 3\r\n${auth}Session: ${session}\r\n\r\n`)).toMatch(/^RTSP\/1.0 454/);
    expect(await ask(`TEARDOWN ${url} RTSP/1.0\r\nCSeq: 4\r\n${auth}Session: ${session}\r\n\r\n`)).toMatch(/^RTSP\/1.0 200/);
    sock.destroy();
    // PLAY without SETUP: a fresh session does not exist yet.
    expect(await rawExchange(p, `PLAY ${url} RTSP/1.0\r\nCSeq: 5\r\n${auth}Session: ${session}\r\n\r\n`)).toMatch(/^RTSP\/1.0 454/);
  });

  it('reports clients in /api/stats and counts them', async () => {
    const reader = connect(h.rtspPort, '127.0.0.1');
    await new Promise((r) => reader.once('connect', r));
    const auth = `Authorization: Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}\r\n`;
    const url = `rtsp://127.0.0.1:${h.rtspPort}/stream1`;
    let text = '';
    reader.on('data', (d) => (text += d.toString('latin1')));
    reader.write(`SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n${auth}Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    for (let i = 0; i < 100 && !/Session: ([0-9a-f]+)/.test(text); i++) await new Promise((r) => setTimeout(r, 20));
    const session = /Session: ([0-9a-f]+)/.exec(text)![1];
    reader.write(`PLAY ${url} RTSP/1.0\r\nCSeq: 2\r\n${auth}Session: ${session}\r\n\r\n`);
    type Stats = Record<string, { clientCount: number; rtsp: { sessions: number; clients: Array<{ user: string; bytes: number }> } }>;
    // Listed with its user once it has been sent something.
    const stats = await until(
      async () => {
        const s = (await (await h.fetch('/api/stats')).json()) as Stats;
        return s.stream1!.rtsp.clients.some((c) => c.user === 'viewer' && c.bytes > 0) && s;
      },
      10_000,
      'the reader in /api/stats with bytes sent',
    );
    expect(stats.stream1!.clientCount).toBeGreaterThanOrEqual(1);
    expect(stats.stream1!.rtsp.clients.find((c) => c.user === 'viewer' && c.bytes > 0)).toBeDefined();
    reader.destroy();
  });
});

describe('plugin-rtsp connection limits', () => {
  let h: RtspTestHost | undefined;
  afterAll(async () => h?.close());

  it('closes idle connections without a session, drops connections beyond the cap, and keeps serving', async () => {
    h = await rtspHost([testStream()], { idleTimeoutMs: 500, maxConnections: 3 });
    await h.host.hub.waitForParameters('stream1', 15_000);
    const open = () =>
      new Promise<{ socket: Socket; closed: Promise<number> }>((resolve) => {
        const socket = connect(h!.rtspPort, '127.0.0.1');
        const t0 = Date.now();
        const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - t0)));
        socket.on('error', () => undefined);
        socket.resume(); // answers are read and dropped, so that the close is seen
        // A dropped connection may close before or after it reports being connected.
        socket.on('connect', () => resolve({ socket, closed }));
        void closed.then(() => resolve({ socket, closed }));
      });
    // Says something, then nothing: closed after the idle time, not before.
    const idle = await open();
    idle.socket.write('OPTIONS rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 1\r\n\r\n');
    const idleFor = await idle.closed;
    expect(idleFor).toBeGreaterThanOrEqual(450);
    expect(idleFor).toBeLessThan(5000);

    // Three held open (each kept busy below the idle time), a fourth is dropped at once.
    const held = await Promise.all([open(), open(), open()]);
    const keep = setInterval(() => held.forEach((c) => c.socket.write('OPTIONS rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 2\r\n\r\n')), 200);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const extra = await open();
      expect(await extra.closed).toBeLessThan(1000);
    } finally {
      clearInterval(keep);
      held.forEach((c) => c.socket.destroy());
    }
    await new Promise((r) => setTimeout(r, 200));
    expect((await ffprobe(h.url())).streams?.[0]?.width).toBe(320);
  });
});
