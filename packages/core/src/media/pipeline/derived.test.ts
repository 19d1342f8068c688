import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, type TestHost } from '../../testing/index.js';
import type { StreamManager } from './manager.js';
import type { DerivedEncodingStats } from './derived.js';
import { collectFrames } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

const manager = (h: TestHost) => h.host.media as StreamManager;
const derivedOf = (h: TestHost, stream: string) => (manager(h).stats(stream) as { derived?: DerivedEncodingStats[] }).derived?.[0];
const rate = (fs: Array<{ data: Buffer; receivedAt: number }>) =>
  (fs.reduce((a, f) => a + f.data.length, 0) * 8) / ((fs.at(-1)!.receivedAt - fs[0]!.receivedAt) / 1000);

describe('derived encodings (real GStreamer)', () => {
  it("follow the stream's bitrate live: the running VP9 encoder spends the new target, no restart", async () => {
    // Noise does not compress, so the encoder really spends its target.
    host = await createTestHost({ config: { streams: [testStream({ source: 'videotestsrc:snow', bitrate: 300_000 })] } });
    const lease = manager(host).acquireDerivedEncoding('stream1', 'vp9', { lingerMs: 0 });
    try {
      await host.host.hub.waitForParameters(lease.hubStream, 20_000);
      const before = await collectFrames(host.host.hub, lease.hubStream, 3000);
      const running = derivedOf(host, 'stream1')!;
      expect(running).toMatchObject({ codec: 'vp9', encoder: 'vp9enc', running: true, targetBitrate: 300_000 });
      expect((await putState(host, 'streamBitrate', 1_500_000)).status).toBe(200);
      await until(() => derivedOf(host!, 'stream1')?.targetBitrate === 1_500_000, 5000, 'the new target');
      await new Promise((r) => setTimeout(r, 1500)); // the rate buffer adapts
      const after = await collectFrames(host.host.hub, lease.hubStream, 3000);
      expect(rate(after)).toBeGreaterThan(2.5 * rate(before));
      // The same pipeline all along: applied to the running encoder, not by a restart.
      expect(derivedOf(host, 'stream1')).toMatchObject({ pipeline: running.pipeline, restarts: 0 });
    } finally {
      lease.release();
    }
  }, 60_000);

  it('isolation "pipeline": a derived encoding runs in its stream\'s own media process, and stops with its last user', async () => {
    host = await createTestHost({
      config: {
        media: { isolation: 'pipeline' },
        streams: [testStream({ resolution: '160x120' }), testStream({ path: '/stream2', resolution: '160x120', source: 'videotestsrc:ball' })],
      },
    });
    await host.host.hub.waitForParameters('stream2', 20_000);
    const pids = manager(host).mediaPids().sort();
    expect(pids).toHaveLength(2);
    const lease = manager(host).acquireDerivedEncoding('stream2', 'vp8', { lingerMs: 0 });
    const params = await host.host.hub.waitForParameters(lease.hubStream, 20_000);
    expect(params).toMatchObject({ codec: 'vp8', width: 160, height: 120 });
    const d = derivedOf(host, 'stream2')!;
    const stream2Pid = (manager(host).stats('stream2') as { mediaPid: number }).mediaPid;
    expect(d.mediaPid).toBe(stream2Pid);
    expect(stream2Pid).not.toBe((manager(host).stats('stream1') as { mediaPid: number }).mediaPid);
    // No process of its own: still one per stream.
    expect(manager(host).mediaPids().sort()).toEqual(pids);
    lease.release();
    await until(() => derivedOf(host!, 'stream2')?.running === false, 10_000, 'the derived encoder to stop');
  }, 60_000);
});
