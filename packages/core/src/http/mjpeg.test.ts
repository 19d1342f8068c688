import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, createTestHost, putState, testStream, until, type TestHost } from '../testing/index.js';
import type { StreamManager } from '../media/pipeline/manager.js';
import { MJPEG_MAX_QUEUE } from './mjpeg.js';

/** Reads `ms` of a multipart/x-mixed-replace response: each part's headers and body. */
async function readParts(res: Response, ms: number): Promise<Array<{ type: string; length: number; body: Buffer }>> {
  const reader = res.body!.getReader();
  const chunks: Buffer[] = [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await Promise.race([reader.read(), new Promise<null>((ok) => setTimeout(() => ok(null), deadline - Date.now()))]);
    if (!r || r.done) break;
    chunks.push(Buffer.from(r.value));
  }
  await reader.cancel().catch(() => undefined);
  const all = Buffer.concat(chunks);
  const parts: Array<{ type: string; length: number; body: Buffer }> = [];
  let o = 0;
  for (;;) {
    const start = all.indexOf('--camdframe\r\n', o);
    if (start < 0) break;
    const headEnd = all.indexOf('\r\n\r\n', start);
    if (headEnd < 0) break;
    const head = all.subarray(start, headEnd).toString();
    const length = Number(/Content-Length: (\d+)/.exec(head)?.[1]);
    const body = all.subarray(headEnd + 4, headEnd + 4 + length);
    if (body.length < length) break; // cut off by the end of the window
    parts.push({ type: /Content-Type: (.*)/.exec(head)?.[1]?.trim() ?? '', length, body });
    o = headEnd + 4 + length;
  }
  return parts;
}

describe('GET /api/streams/:name/mjpeg', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ config: { streams: [testStream({ codec: 'mjpeg' }), testStream({ path: '/stream2' })] } });
    await h.host.hub.waitForParameters('stream1', 20_000);
  });
  afterAll(() => h?.close());

  it("streams the encoder's JPEGs as multipart/x-mixed-replace at the stream's frame rate", async () => {
    const res = await h.fetch('/api/streams/stream1/mjpeg');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('multipart/x-mixed-replace; boundary=camdframe');
    const parts = await readParts(res, 3000);
    // 15 fps over 3 s, give or take the start and a busy machine.
    expect(parts.length).toBeGreaterThanOrEqual(30);
    expect(parts.length).toBeLessThanOrEqual(50);
    for (const p of parts) {
      expect(p.type).toBe('image/jpeg');
      expect([...p.body.subarray(0, 2)]).toEqual([0xff, 0xd8]);
      expect([...p.body.subarray(-2)]).toEqual([0xff, 0xd9]);
    }
  });

  it('needs the credentials and permission of the snapshot, and names the codec of a stream that is not MJPEG', async () => {
    expect((await h.fetch('/api/streams/stream1/mjpeg', { user: null })).status).toBe(401);
    expect((await h.fetch('/api/streams/stream1/mjpeg', { user: h.users.nobody })).status).toBe(403);
    const snap = await h.fetch('/api/streams/stream1/snapshot.jpg', { user: h.users.nobody });
    expect(snap.status).toBe(403);
    const other = await h.fetch('/api/streams/stream2/mjpeg');
    expect([other.status, await other.json()]).toEqual([
      409,
      {
        error: 'Conflict',
        code: 'CAMD_ERR_STREAM_CODEC',
        message: 'stream "stream2" is H.264: MJPEG over HTTP serves a stream whose videoEncoder is mjpeg (or take snapshot.jpg)',
      },
    ]);
    expect((await h.fetch('/api/streams/nope/mjpeg')).status).toBe(404);
  });

  it('a bitrate change (an operator, ABR) leaves an MJPEG pipeline and its clients alone: JPEG has no bitrate', async () => {
    const media = h.host.media as StreamManager;
    const before = media.pipelineId('stream1');
    expect(before).toBeDefined();
    const res = await h.fetch('/api/streams/stream1/mjpeg');
    const reading = readParts(res, 2500);
    expect((await putState(h, 'streamBitrate', 300_000)).status).toBe(200);
    const parts = await reading;
    expect(parts.length).toBeGreaterThanOrEqual(25);
    expect(media.pipelineId('stream1')).toBe(before);
  });

  it('ends the response when the stream changes to another codec', async () => {
    const res = await h.fetch('/api/streams/stream1/mjpeg');
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    expect((await putState(h, 'videoEncoder', 'h264')).status).toBe(200);
    const ended = await until(
      async () => {
        const r = await reader.read();
        return r.done ? 'ended' : undefined;
      },
      20_000,
      'the response to end',
    );
    expect(ended).toBe('ended');
    // The snapshot follows the codec: an MJPEG stream's is its newest JPEG, an H.264 one's is decoded.
    await h.host.hub.waitForParameters('stream1', 20_000);
    await until(() => h.host.hub.parameters('stream1')?.codec === 'h264', 20_000, 'H.264 parameters');
    const snap = await h.fetch('/api/streams/stream1/snapshot.jpg');
    expect([snap.status, snap.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    expect([...Buffer.from(await snap.arrayBuffer()).subarray(0, 2)]).toEqual([0xff, 0xd8]);
    await putState(h, 'videoEncoder', 'mjpeg');
  });
});

describe('GET /api/streams/:name/mjpeg with a slow client', () => {
  let big: TestHost;
  beforeAll(async () => {
    // Noise at 640x480: 200 kB JPEGs, so a stalled socket's kernel buffers fill within seconds.
    big = await createTestHost({ config: { streams: [testStream({ codec: 'mjpeg', resolution: '640x480', source: 'videotestsrc:snow' })] } });
    await big.host.hub.waitForParameters('stream1', 20_000);
  });
  afterAll(() => big?.close());

  it('a slow client skips frames (bounded queue) while a fast one gets them all', async () => {
    // A client with a small receive buffer reading 10 kB/s, far below 15 JPEGs of noise a second
    // (about 3 MB/s): once the kernel's send buffer (up to 4 MiB here) is full, the hub skips frames for it.
    const port = new URL(big.baseUrl).port;
    const script = [
      'import socket, sys, time',
      's = socket.socket()',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
      `s.connect(("127.0.0.1", ${port}))`,
      `s.sendall(b"GET /api/streams/stream1/mjpeg HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: ${basicAuth(big.users.viewer)}\\r\\n\\r\\n")`,
      'while True:',
      '    if not s.recv(1024): break',
      '    time.sleep(0.1)',
    ].join('\n');
    const slow = spawn('/usr/bin/python3', ['-c', script], { stdio: 'ignore' });
    try {
      const fast = await big.fetch('/api/streams/stream1/mjpeg');
      const consumers = async () =>
        (
          (await (await big.fetch('/api/stats')).json()) as Record<
            string,
            { consumers: Array<{ name: string; framesDelivered: number; framesDropped: number; queued: number }> }
          >
        ).stream1!.consumers;
      const [parts, slowStats] = await Promise.all([
        readParts(fast, 6000),
        until(
          async () => {
            const c = (await consumers()).filter((x) => x.name.startsWith('mjpeg'));
            const s = c.find((x) => x.framesDropped > 10);
            return s && c.length === 2 && s;
          },
          20_000,
          'the slow client to skip frames',
        ),
      ]);
      expect(parts.length).toBeGreaterThanOrEqual(60);
      // Bounded: with a lag budget (streamLatencyMode: low 100 ms by default, normal 500, high 2000)
      // the queue never spans more than the budget; without one, MJPEG_MAX_QUEUE frames.
      const budget = big.host.hub.lagBudget;
      expect(slowStats.queued).toBeLessThanOrEqual(budget === undefined ? MJPEG_MAX_QUEUE : Math.ceil((budget * 15) / 1000) + 1);
    } finally {
      slow.kill('SIGKILL');
    }
  });
});
