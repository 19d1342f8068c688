import { afterEach, describe, expect, it } from 'vitest';
import type { EncodedFrame } from '@camd/core';
import { createTestHost, freePort, testStream, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { frameRate, recordFigures, recordServer, stopAll, streamFps, targetStats } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
  await stopAll();
});

describe('a server that stops reading', () => {
  it('stalls only its own target (which drops to keyframes, then reconnects); another target and a client keep every frame', async () => {
    const [slowPort, goodPort] = [await freePort(), await freePort()];
    const slow = await recordServer(slowPort, '/cam');
    const good = await recordServer(goodPort, '/cam');
    host = await createTestHost({
      plugins: [
        {
          def: publish,
          options: {
            targets: [
              { stream: 'stream1', url: `rtsp://127.0.0.1:${slowPort}/cam` },
              { stream: 'stream1', url: `rtsp://127.0.0.1:${goodPort}/cam` },
            ],
            stallMs: 4000,
            maxQueueFrames: 15,
          },
        },
      ],
      // Noise does not compress: the stream really carries its 8 Mbit/s, so the ~4 MB the kernel buffers
      // between camd and a stopped server fill in about 5 s (at 2 Mbit/s they took 17 s, and on a
      // loaded machine longer than this test waits).
      config: { streams: [testStream({ source: 'videotestsrc:snow', resolution: '640x480', bitrate: 8_000_000 })] },
    });
    const slowStats = async () => (await targetStats(host!)).find((t) => t.url.includes(String(slowPort)))!;
    await until(async () => (await targetStats(host!)).every((t) => t.state === 'publishing'), 20_000, 'both targets to publish');
    await until(() => recordFigures(good).frames > 15 && recordFigures(slow).frames > 15, 20_000, 'both servers to decode');

    // A client of the same stream: records sequence numbers and its own drops.
    const seqs: number[] = [];
    const client = host.host.hub.subscribe('stream1', { name: 'test client', onFrame: (f: EncodedFrame) => void seqs.push(f.seq) });
    try {
      slow.child.kill('SIGSTOP');
      const stalled = await until(
        async () => {
          const s = await slowStats();
          return s.state === 'stalled' || s.state === 'backoff' ? s : undefined;
        },
        30_000,
        'the slow target to stall',
      );
      expect(['stalled', 'backoff']).toContain(stalled.state);
      const failed = await until(
        async () => {
          const s = await slowStats();
          return s.errors >= 1 ? s : undefined;
        },
        30_000,
        'the slow target to give up on the server',
      );
      expect(failed.lastError).toMatch(/took no data for 4000 ms|closed the connection|no answer/);
      expect(failed.framesDropped).toBeGreaterThan(0);

      // Meanwhile the good target's server decodes at the stream's rate.
      const [fps, produced] = await Promise.all([frameRate(good, 3000), streamFps(host)]);
      expect(fps).toBeGreaterThan(produced * 0.75);
      const goodStats = (await targetStats(host)).find((t) => t.url.includes(String(goodPort)))!;
      expect(goodStats).toMatchObject({ state: 'publishing', framesDropped: 0, errors: 0 });
      expect(client.stats.framesDropped).toBe(0);
      expect(seqs.length).toBeGreaterThan(30);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! - seqs[i - 1]!).toBe(1);
    } finally {
      client.close();
      slow.child.kill('SIGCONT');
    }
    // The server reads again: the target's retry connects.
    await until(async () => (await slowStats()).state === 'publishing', 40_000, 'the slow target to reconnect');
  });
});
