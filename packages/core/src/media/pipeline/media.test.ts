import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, putState, testStream, until, type TestHost } from '../../testing/index.js';
import type { StreamManager } from './manager.js';
import { Snapshots } from './snapshot.js';
import { NAL, nalType, splitAnnexB } from '../h264.js';
import { collectFrames, continuity, probe, waitForFrame } from './test-utils.js';
import { definePlugin, PLUGIN_API_VERSION } from '../../plugins/contract.js';
import { STAGE } from '../../hooks.js';
import { v } from '../../state/validate.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

async function healthStatus(h: TestHost) {
  return (await h.fetch('/api/health', { user: null })).status;
}

/**
 * Every frame the encoder made reaches the daemon, the picture's timeline has no pause (a loaded
 * machine may drop a few frames before the encoder: a busy-core CI run measured a 267 ms capture gap
 * at a bitrate change), and delivery to the daemon never stops for a second (see `continuity`). A
 * restart is caught by each test's pipeline and process checks, not by timing.
 */
function expectUninterrupted(frames: Parameters<typeof continuity>[0]): void {
  const c = continuity(frames);
  expect(frames.length).toBeGreaterThan(10);
  expect(c.seqBreaks).toBe(0);
  expect(c.captureGapMs).toBeLessThan(500);
  expect(c.deliveryGapMs).toBeLessThan(1000);
}

describe('media plane (real GStreamer)', () => {
  it('delivers frames at the configured rate and size, decodable with the configured profile', async () => {
    host = await createTestHost({ config: { streams: [testStream({ resolution: '320x240', fps: 15, profile: 'main' })] } });
    await host.host.hub.nextFrame('stream1', 15_000);
    const frames = await collectFrames(host.host.hub, 'stream1', 3000);
    // 3 s at 15 fps: 45 frames (a loaded CI machine may deliver a few less; never more).
    expect(frames.length).toBeGreaterThanOrEqual(36);
    expect(frames.length).toBeLessThanOrEqual(48);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.seq).toBe(frames[i - 1]!.seq + 1);
    // Capture times are wall-clock and 1/15 s apart.
    const spacing = (frames.at(-1)!.captureTimeMs - frames[0]!.captureTimeMs) / (frames.length - 1);
    expect(spacing).toBeGreaterThan(55);
    expect(spacing).toBeLessThan(80);
    expect(Math.abs(frames.at(-1)!.captureTimeMs - Date.now())).toBeLessThan(2000);
    expect(await probe(frames)).toMatchObject({ codec_name: 'h264', width: 320, height: 240, profile: 'Main' });
    const stats = (await (await host.fetch('/api/stats')).json()) as Record<string, Record<string, number>>;
    expect(stats.stream1).toMatchObject({ fps: expect.any(Number), keyframeInterval: expect.any(Number), errors: 0, running: true });
    expect(stats.stream1!.keyframeInterval).toBeCloseTo(1, 0);
  });

  it('keeps the configured GOP on a picture that changes every frame: every join point is an IDR, one per second', async () => {
    // Snow changes completely between frames: x264's scene-cut detection (on in every preset but
    // ultrafast) would insert I and IDR frames.
    host = await createTestHost({ config: { streams: [testStream({ resolution: '320x240', fps: 30, preset: 'medium', source: 'videotestsrc:snow' })] } });
    await waitForFrame(host.host.hub, 'stream1', (f) => f.keyframe, 15_000);
    const frames = await collectFrames(host.host.hub, 'stream1', 4000);
    const hasIdr = (data: Buffer) => splitAnnexB(data).some((n) => nalType(n) === NAL.IDR);
    const keyframes = frames.filter((f) => f.keyframe);
    expect(keyframes.every((f) => hasIdr(f.data))).toBe(true);
    expect(frames.filter((f) => hasIdr(f.data)).length).toBe(keyframes.length);
    // 4 s with a GOP of 1 s (30 frames): 4 IDRs, give or take the window's edges.
    expect(keyframes.length).toBeGreaterThanOrEqual(3);
    expect(keyframes.length).toBeLessThanOrEqual(5);
  });

  it('applies a bitrate change to the running encoder: measured bitrate follows, no gap in frames', async () => {
    // Noise does not compress, so the encoder really spends its target.
    host = await createTestHost({ config: { streams: [testStream({ source: 'videotestsrc:snow', bitrate: 300_000 })] } });
    await waitForFrame(host.host.hub, 'stream1', (f) => f.keyframe);
    const before = await collectFrames(host.host.hub, 'stream1', 3000);
    const pipeline = (host.host.media as StreamManager).pipelineId('stream1');
    const during = collectFrames(host.host.hub, 'stream1', 6000);
    await new Promise((r) => setTimeout(r, 500));
    expect((await putState(host, 'streamBitrate', 1_500_000)).status).toBe(200);
    const frames = await during;
    const after = frames.filter((f) => f.receivedAt > frames[0]!.receivedAt + 3000);
    const rate = (fs: typeof frames) => (fs.reduce((a, f) => a + f.data.length, 0) * 8) / ((fs.at(-1)!.receivedAt - fs[0]!.receivedAt) / 1000);
    expect(rate(after)).toBeGreaterThan(2.5 * rate(before));
    // Same worker (no restart), every frame delivered, the picture's timeline without a pause.
    expect((host.host.media as StreamManager).pipelineId('stream1')).toBe(pipeline);
    expectUninterrupted(frames);
  });

  it('rebuilds on a resolution change and keeps the same consumer fed with frames of the new size', async () => {
    host = await createTestHost();
    const frames: Array<{ width: number; keyframe: boolean; data: Buffer }> = [];
    const consumer = host.host.hub.subscribe('stream1', { name: 'stays', onFrame: (f) => void frames.push(f) });
    await waitForFrame(host.host.hub, 'stream1', () => frames.length > 3);
    expect((await putState(host, 'streamResolution', '160x120')).status).toBe(200);
    await waitForFrame(host.host.hub, 'stream1', (f) => f.width === 160);
    const newSize = await collectFrames(host.host.hub, 'stream1', 1500);
    expect(await probe(newSize)).toMatchObject({ width: 160, height: 120 });
    expect(frames.some((f) => f.width === 160)).toBe(true);
    expect((await (await host.fetch('/api/streams')).json()).streams[0]).toMatchObject({ width: 160, height: 120 });
    consumer.close();
  });

  it('restarts a killed media process by itself: counted, logged in stats, health unhealthy then healthy, same consumer fed again', async () => {
    host = await createTestHost();
    const media = host.host.media as StreamManager;
    const seen: number[] = [];
    host.host.hub.subscribe('stream1', { name: 'survivor', onFrame: (f) => void seen.push(f.seq) });
    await until(() => seen.length > 5);
    expect(await healthStatus(host)).toBe(200);
    const pipeline = media.pipelineId('stream1')!;
    const [pid] = host.killMediaProcess();
    await until(async () => (await healthStatus(host!)) === 503, 5000);
    const stats = (await (await host.fetch('/api/stats')).json()) as Record<string, { errors: number; lastError: string }>;
    expect(stats.stream1!.errors).toBe(1);
    expect(stats.stream1!.lastError).toMatch(/killed by SIGKILL/);
    const countAtKill = seen.length;
    await until(() => seen.length > countAtKill + 5);
    expect(media.pipelineId('stream1')).not.toBe(pipeline);
    expect(media.mediaPids()).not.toContain(pid);
    await until(async () => (await healthStatus(host!)) === 200);
  });

  it('isolation "pipeline": each stream in a process of its own, so a crash takes only that stream along', async () => {
    host = await createTestHost({
      config: { media: { isolation: 'pipeline' }, streams: [testStream(), testStream({ path: '/stream2', source: 'videotestsrc:ball' })] },
    });
    const media = host.host.media as StreamManager;
    const hub = host.host.hub;
    await Promise.all([waitForFrame(hub, 'stream1', (f) => f.keyframe), waitForFrame(hub, 'stream2', (f) => f.keyframe)]);
    const pids = media.mediaPids();
    expect(pids).toHaveLength(2);
    const stream2Pipeline = media.pipelineId('stream2');
    const survivor = collectFrames(hub, 'stream2', 3000);
    const killedAt = Date.now();
    process.kill(pids[0]!, 'SIGKILL');
    const frames = await survivor;
    // stream2 did not notice: the same process and pipeline, every frame, no pause.
    expect(media.mediaPids()).toContain(pids[1]);
    expect(media.pipelineId('stream2')).toBe(stream2Pipeline);
    expectUninterrupted(frames);
    await waitForFrame(hub, 'stream1', (f) => f.captureTimeMs > killedAt + 500, 20_000);
    expect(media.mediaPids()).not.toContain(pids[0]);
  });

  it('a setting read while building reaches only the streams that read it: live where a fragment applies it, by a rebuild otherwise', async () => {
    const key = (name: string) => ({
      key: name,
      default: 0,
      permissionRead: ['Media_r'] as const,
      permissionWrite: ['Media_rw'] as const,
      validate: v.int({ min: 0, max: 100 }),
      persist: false,
    });
    const applied: unknown[] = [];
    const probe = definePlugin({
      name: 'test-reader',
      apiVersion: PLUGIN_API_VERSION,
      stateKeys: { testRebuild: key('testRebuild'), testLive: key('testLive') },
      setup(ctx) {
        ctx.hooks.buildPipeline.tapPromise({ name: 'test-reader', stage: STAGE.OVERLAY }, async (spec) => {
          if (spec.stream.name !== 'stream1') return spec; // stream2 reads neither
          const pattern = ctx.settings.testRebuild.get() > 0 ? 'ball' : 'smpte';
          ctx.settings.testLive.get();
          spec.filters.push({
            owner: 'test-reader',
            launch: `identity name=reader_${pattern}`,
            elements: ['identity'],
            live: { testLive: (_h, value) => void applied.push(value) },
          });
          return spec;
        });
      },
    });
    host = await createTestHost({ plugins: [probe], config: { streams: [testStream(), testStream({ path: '/stream2' })] } });
    const media = host.host.media as StreamManager;
    await Promise.all(['stream1', 'stream2'].map((n) => until(() => media.stats(n)!.state === 'playing')));
    const ids = () => [media.pipelineId('stream1'), media.pipelineId('stream2')];
    const start = ids();
    expect((await putState(host, 'testLive', 5)).status).toBe(200);
    await until(() => applied.length === 1);
    expect(applied).toEqual([5]);
    expect(ids()).toEqual(start); // live: neither stream rebuilt
    expect((await putState(host, 'testRebuild', 1)).status).toBe(200);
    await until(() => media.pipelineId('stream1') !== start[0]);
    expect(media.pipelineId('stream2')).toBe(start[1]); // stream2 never read it
    await until(() => media.stats('stream1')!.state === 'playing');
    expect(media.stats('stream1')!.restarts).toBe(0); // a rebuild, not a failure
  });

  it('restarts a pipeline that plays but delivers nothing (a blocked element): counted, with the reason, and frames resume', async () => {
    // A filter that can be made to block: identity sleeps this long on every buffer. Its setting is
    // applied live (the one path from a setting to a running pipeline); 0 again after a rebuild.
    const blocker = definePlugin({
      name: 'test-blocker',
      apiVersion: PLUGIN_API_VERSION,
      stateKeys: {
        testBlockUs: {
          key: 'testBlockUs',
          default: 0,
          permissionRead: ['Media_r'],
          permissionWrite: ['Media_rw'],
          validate: v.int({ min: 0 }),
          persist: false,
        },
      },
      setup(ctx) {
        ctx.hooks.buildPipeline.tapPromise({ name: 'ignored: taps carry the plugin name', stage: STAGE.OVERLAY }, async (spec) => {
          ctx.settings.testBlockUs.get();
          spec.filters.push({
            owner: 'test-blocker',
            launch: 'identity name=blocker sleep-time=0',
            elements: ['identity'],
            live: { testBlockUs: (h, us) => h.setProperty('blocker', 'sleep-time', us as number) },
          });
          return spec;
        });
      },
    });
    host = await createTestHost({ plugins: [blocker] });
    const media = host.host.media as StreamManager;
    await waitForFrame(host.host.hub, 'stream1', (f) => f.keyframe);
    await until(() => media.stats('stream1')!.state === 'playing');
    const before = media.pipelineId('stream1');
    const blockedAt = Date.now();
    expect((await putState(host, 'testBlockUs', 3_000_000)).status).toBe(200); // 3 s per frame: a stall
    // Applied to the running pipeline, not by a rebuild.
    await new Promise((r) => setTimeout(r, 600));
    expect(media.pipelineId('stream1')).toBe(before);
    const stats = async () =>
      ((await (await host!.fetch('/api/stats')).json()) as Record<string, { restarts: number; lastError: string | null; state: string; running: boolean }>)
        .stream1!;
    await until(async () => (await stats()).restarts === 1, 15_000);
    expect((await stats()).lastError).toMatch(/^stalled: no frame for \d+\.\d s while playing$/);
    // The rebuilt pipeline does not block: fresh pictures flow again, from a new pipeline.
    await waitForFrame(host.host.hub, 'stream1', (f) => f.captureTimeMs > blockedAt + 2000, 20_000);
    expect(media.pipelineId('stream1')).not.toBe(before);
    await until(async () => (await stats()).state === 'playing');
    expect((await stats()).restarts).toBe(1);
  });

  it('a snapshot deep into a long GOP asks the encoder for a keyframe instead of decoding the whole GOP', async () => {
    host = await createTestHost({ config: { streams: [testStream({ gop: 300 })] } }); // a 20 s GOP at 15 fps
    const hub = host.host.hub;
    await waitForFrame(hub, 'stream1', (f) => f.keyframe);
    await new Promise((r) => setTimeout(r, 2500));
    const asked = Date.now();
    const jpeg = await new Snapshots(hub).get('stream1');
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    expect([jpeg.readUInt16BE(sof + 7), jpeg.readUInt16BE(sof + 5)]).toEqual([320, 240]);
    // A new GOP began after the request (the old one had 17 s to go).
    expect(hub.currentGop('stream1')[0]!.captureTimeMs).toBeGreaterThan(asked - 100);
  });

  // One media process: readers take the capture's buffers through tee/proxysrc; a process per pipeline: shared memory.
  it.each([
    ['shared', 'memory'],
    ['pipeline', 'shm'],
  ] as const)(
    'streams with the same source share one capture (isolation %s, %s fan-out): each keeps its own size and rate, both pause while it is down and resume with it',
    async (isolation, fanout) => {
      const same = 'videotestsrc:ball'; // as two streams of one camera device would
      host = await createTestHost({
        config: {
          media: { isolation },
          streams: [
            testStream({ resolution: '640x360', fps: 30, source: same }),
            testStream({ path: '/stream2', resolution: '320x240', fps: 15, source: same }),
          ],
        },
      });
      const hub = host.host.hub;
      await Promise.all([waitForFrame(hub, 'stream1', (f) => f.keyframe), waitForFrame(hub, 'stream2', (f) => f.keyframe)]);
      const stats = async () => (await (await host!.fetch('/api/stats')).json()) as Record<string, { capture?: Record<string, unknown>; fps: number }>;
      const s = await stats();
      expect(s.stream1!.capture).toMatchObject({
        id: 'capture1',
        fanout,
        source: 'test pattern ball',
        streams: ['stream1', 'stream2'],
        width: 640,
        height: 360,
        fps: 30,
        running: true,
        restarts: 0,
      });
      expect(s.stream2!.capture).toMatchObject({ id: 'capture1' });
      expect((await (await host.fetch('/api/streams')).json()).streams[1]).toMatchObject({
        width: 320,
        height: 240,
        capture: { id: 'capture1', streams: ['stream1', 'stream2'] },
      });

      const [f1, f2] = await Promise.all([collectFrames(hub, 'stream1', 3000), collectFrames(hub, 'stream2', 3000)]);
      expect(f1.length).toBeGreaterThanOrEqual(72); // 90 at 30 fps, a loaded machine a few less
      expect(f2.length).toBeGreaterThanOrEqual(36); // 45 at 15 fps
      expect(f2.length).toBeLessThanOrEqual(48);
      expect(await probe(f1)).toMatchObject({ width: 640, height: 360 });
      expect(await probe(f2)).toMatchObject({ width: 320, height: 240 });
      // Both streams depend on that one capture: while it is down (it backs off 1 s), neither has pictures.
      const seen: Record<string, number[]> = { stream1: [], stream2: [] };
      const watchers = Object.keys(seen).map((n) => hub.subscribe(n, { name: 'watch', onFrame: (f) => void seen[n]!.push(f.captureTimeMs) }));
      await until(() => seen.stream1!.length > 0 && seen.stream2!.length > 0);
      expect((host.host.media as StreamManager).failCapture('capture1')).toBe(true);
      const killedAt = Date.now();
      await new Promise((r) => setTimeout(r, 700));
      watchers.forEach((w) => w.close());
      expect([...seen.stream1!, ...seen.stream2!].filter((t) => t > killedAt + 150)).toEqual([]);
      expect((await stats()).stream1!.capture).toMatchObject({ running: false });
      // Pictures taken after the restart (the capture backs off for a second first), on both streams.
      const fresh = (f: { captureTimeMs: number }) => f.captureTimeMs > killedAt + 500;
      await Promise.all([waitForFrame(hub, 'stream1', fresh, 20_000), waitForFrame(hub, 'stream2', fresh, 20_000)]);
      // (A reader may reconnect a moment before the capture's own "playing" reaches the daemon.)
      await until(async () => (await stats()).stream1!.capture!.running === true, 5000);
      const after = await stats();
      expect(after.stream1!.capture).toMatchObject({ running: true, restarts: 1 });
    },
  );

  it('a reader of a shared capture rebuilt again and again: each run gets frames, the other reader keeps every frame', async () => {
    const same = 'videotestsrc:ball';
    host = await createTestHost({
      config: { streams: [testStream({ fps: 30, source: same }), testStream({ path: '/stream2', resolution: '320x240', fps: 15, source: same })] },
    });
    const hub = host.host.hub;
    await Promise.all([waitForFrame(hub, 'stream1', (f) => f.keyframe), waitForFrame(hub, 'stream2', (f) => f.keyframe)]);
    const steady = collectFrames(hub, 'stream1', 6000);
    // Each size change rebuilds stream2: its branch of the capture's tee goes, a new one comes.
    for (const size of ['160x120', '320x240', '240x180', '320x240']) {
      expect((await putState(host, 'stream2.streamResolution', size)).status).toBe(200);
      const [w] = size.split('x').map(Number);
      await waitForFrame(hub, 'stream2', (f) => f.width === w, 15_000);
    }
    const frames = await steady;
    expectUninterrupted(frames);
    const s = (await (await host.fetch('/api/stats')).json()) as Record<string, { capture?: { restarts: number; running: boolean } }>;
    expect(s.stream1!.capture).toMatchObject({ running: true, restarts: 0 });
  });

  it('reports a bad device path clearly while the other stream keeps serving', async () => {
    host = await createTestHost({
      config: { streams: [testStream({ path: '/cam', source: '/dev/video-nonexistent' }), testStream({ path: '/stream2', source: 'videotestsrc:ball' })] },
    });
    await host.host.hub.nextFrame('stream2', 15_000);
    await until(async () => {
      const s = (await (await host!.fetch('/api/stats')).json()) as Record<string, { errors: number }>;
      return s.cam!.errors > 0;
    });
    const stats = (await (await host.fetch('/api/stats')).json()) as Record<string, { lastError: string; running: boolean }>;
    expect(stats.cam!.lastError).toMatch(/camera device \/dev\/video-nonexistent does not exist/);
    expect(stats.stream2!.running).toBe(true);
    // Check details need Media_r (the default test user is the admin).
    const health = (await (await host.fetch('/api/health')).json()) as {
      healthy: boolean;
      checks: Array<{ name: string; healthy: boolean; detail?: string }>;
    };
    expect(health.healthy).toBe(false);
    expect(health.checks.find((c) => c.name === 'stream:cam')).toMatchObject({ healthy: false, detail: expect.stringMatching(/video-nonexistent/) });
    expect(health.checks.find((c) => c.name === 'stream:stream2')).toMatchObject({ healthy: true });
  });

  it('serves a JPEG snapshot of the running stream without a second capture', async () => {
    host = await createTestHost();
    await waitForFrame(host.host.hub, 'stream1', (f) => f.keyframe);
    const res = await host.fetch('/api/streams/stream1/snapshot.jpg', { user: host.users.viewer });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await res.arrayBuffer());
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    // SOF0 carries height then width.
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    expect([jpeg.readUInt16BE(sof + 5), jpeg.readUInt16BE(sof + 7)]).toEqual([240, 320]);
    expect((await host.fetch('/api/streams/nope/snapshot.jpg')).status).toBe(404);
  });

  it('serves many pollers with one decode per second, and a fresh size after a rebuild', async () => {
    host = await createTestHost({ config: { streams: [testStream({ gop: 150 })] } }); // one GOP through the whole test
    await waitForFrame(host.host.hub, 'stream1', (f) => f.keyframe);
    // A reuse window well above one decode's time, also on a busy machine.
    const snapshots = new Snapshots(host.host.hub, 4000);
    const jpegs = await Promise.all(Array.from({ length: 8 }, () => snapshots.get('stream1')));
    expect(snapshots.decodes).toBe(1);
    expect(new Set(jpegs).size).toBe(1);
    await snapshots.get('stream1');
    expect(snapshots.decodes).toBe(1);
    await new Promise((r) => setTimeout(r, 4100));
    await snapshots.get('stream1');
    expect(snapshots.decodes).toBe(2);

    const size = async () => {
      const jpeg = Buffer.from(await (await host!.fetch('/api/streams/stream1/snapshot.jpg', { user: host!.users.viewer })).arrayBuffer());
      const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
      return `${jpeg.readUInt16BE(sof + 7)}x${jpeg.readUInt16BE(sof + 5)}`;
    };
    expect(await size()).toBe('320x240'); // now cached
    await host.host.state.set('streamResolution', '160x120');
    await waitForFrame(host.host.hub, 'stream1', (f) => f.keyframe && host!.host.hub.parameters('stream1')?.width === 160);
    // The cached picture was decoded with the old parameter sets: the next snapshot has the new size at once.
    expect(await size()).toBe('160x120');
  });
});
