import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testStream, until } from '@camd/core/testing';
import { ffmpegReader, rawExchange, rtspHost, type RtspTestHost } from './test-utils.js';

let h: RtspTestHost | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens an interleaved TCP session and PLAYs it, then stops reading the socket entirely. */
async function stalledReader(port: number) {
  const url = `rtsp://127.0.0.1:${port}/stream1`;
  const auth = `Authorization: Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}\r\n`;
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let text = '';
  const onData = (d: Buffer) => (text += d.toString('latin1'));
  sock.on('data', onData);
  sock.write(`SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n${auth}Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
  for (let i = 0; i < 100 && !/Session: ([0-9a-f]+)/.test(text); i++) await sleep(20);
  const session = /Session: ([0-9a-f]+)/.exec(text)![1];
  sock.write(`PLAY ${url} RTSP/1.0\r\nCSeq: 2\r\n${auth}Session: ${session}\r\n\r\n`);
  await sleep(200);
  sock.off('data', onData);
  sock.pause();
  return { sock, session };
}

describe('plugin-rtsp under load', () => {
  it('serves 20 concurrent ffmpeg readers', async () => {
    h = await rtspHost([testStream({ fps: 15 })]);
    await h.host.hub.waitForParameters('stream1', 15_000);
    const readers = Array.from({ length: 20 }, (_, i) => ffmpegReader(h!.url('/stream1'), i % 2 ? 'udp' : 'tcp'));
    try {
      // Every reader receives the stream: more than 30 frames each (2 s at 15 fps; 20 ffmpeg starting
      // at once on 2 cores take a while: up to 30 s).
      await until(() => readers.every((r) => r.frames() > 30), 30_000, 'every reader to receive 30 frames').catch((e: Error) => {
        throw new Error(`${e.message}: ${readers.map((r) => r.frames()).join(' ')}`);
      });
      const stats = (await (await h.fetch('/api/stats')).json()) as Record<string, { clientCount: number }>;
      expect(stats.stream1!.clientCount).toBeGreaterThanOrEqual(20);
    } finally {
      await Promise.all(readers.map((r) => r.stop()));
    }
  });

  it('drops frames for a reader that stops reading, without slowing the others', async () => {
    // Noise at 6 Mbit/s fills a stalled reader's socket buffers quickly.
    h = await rtspHost([testStream({ fps: 15, bitrate: 6_000_000, source: 'videotestsrc:snow' })], { highWaterBytes: 16384, stallMs: 60_000 });
    await h.host.hub.waitForParameters('stream1', 15_000);
    const stalled = await stalledReader(h.rtspPort);
    const fast = ffmpegReader(h.url('/stream1'), 'tcp');
    try {
      // Past the fast reader's start (its first GOP may arrive at once), while the stalled one fills up.
      await until(() => fast.frames() >= 15, 15_000, 'the fast reader to play');
      const start = fast.frames();
      await sleep(6000);
      const got = fast.frames() - start;
      // 6 s at 15 fps = 90 frames; the fast reader keeps (nearly) all of them.
      expect(got).toBeGreaterThanOrEqual(72);
      const stats = (await (await h.fetch('/api/stats')).json()) as Record<string, { rtsp: { clients: Array<{ session: string; framesDropped: number }> } }>;
      const slow = stats.stream1!.rtsp.clients.find((c) => c.session === stalled.session);
      expect(slow?.framesDropped).toBeGreaterThan(0);
    } finally {
      stalled.sock.destroy();
      await fast.stop();
    }
  });

  it('survives thousands of random and mutated requests while a client keeps receiving', async () => {
    h = await rtspHost([testStream({ fps: 15 })]);
    await h.host.hub.waitForParameters('stream1', 15_000);
    const port = h.rtspPort;
    const watcher = ffmpegReader(h.url('/stream1'), 'tcp');
    try {
      await until(() => watcher.frames() > 0, 15_000, 'the watcher to play');
      const before = watcher.frames();
      const url = `rtsp://127.0.0.1:${port}/stream1`;
      const basic = `Authorization: Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}\r\n`;
      const seeds = [
        `OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`,
        `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 2\r\n${basic}Accept: application/sdp\r\n\r\n`,
        `SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n${basic}Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`,
        `SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n${basic}Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`,
        `GET_PARAMETER ${url} RTSP/1.0\r\nCSeq: 4\r\n${basic}Session: abc\r\nContent-Length: 5\r\n\r\nhello`,
        // live555-class cases
        `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 5\r\nAuthorization: Digest username="viewer", realm="camd", nonce="x", uri=, response=\r\n\r\n`,
        `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 6\r\nAuthorization: Digest ${'a="'.repeat(500)}\r\n\r\n`,
        `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 7\r\nAuthorization: Basic ${'%%%'.repeat(100)}\r\n\r\n`,
        `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 8\r\nAuthorization: Digest username="viewer" realm="camd" nonce="1.2.3" uri="${url}" response="00"\r\n\r\n`,
        `OPTIONS ${url} RTSP/1.0\r\nCSeq: 9\r\nX-Huge: ${'h'.repeat(20000)}\r\n\r\n`,
        `$\x00\xff\xff${'x'.repeat(100)}`,
      ];
      let rng = 0x2545f491;
      const rand = (n: number) => {
        rng ^= rng << 13;
        rng ^= rng >>> 17;
        rng ^= rng << 5;
        return (rng >>> 0) % n;
      };
      const mutate = (s: string): Buffer => {
        const b = Buffer.from(s, 'latin1');
        const kind = rand(5);
        if (kind === 0) return b.subarray(0, rand(b.length + 1));
        if (kind === 1) {
          for (let i = 0; i < 1 + rand(8); i++) b[rand(b.length)] = rand(256);
          return b;
        }
        if (kind === 2)
          return Buffer.concat([b.subarray(0, rand(b.length)), Buffer.from(Array.from({ length: rand(64) }, () => rand(256))), b.subarray(rand(b.length))]);
        if (kind === 3) return Buffer.from(Array.from({ length: 1 + rand(512) }, () => rand(256)));
        return Buffer.from(s.replace(/\r\n/g, rand(2) ? '\n' : '\r'), 'latin1');
      };
      const total = 2000;
      let sent = 0;
      const worker = async () => {
        while (sent < total) {
          sent++;
          await rawExchange(port, mutate(seeds[rand(seeds.length)]!), 30, 30);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      // Still answering, still streaming to the concurrent client.
      expect(await rawExchange(port, `OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`)).toMatch(/^RTSP\/1.0 200/);
      await until(() => watcher.frames() - before > 15, 10_000, 'the watcher to receive 15 more frames');
      expect(watcher.child.exitCode).toBeNull();
      expect((await h.fetch('/api/health', { user: null })).status).toBe(200);
    } finally {
      await watcher.stop();
    }
  });
});
