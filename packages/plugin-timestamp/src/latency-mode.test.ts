import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, putState, testStream, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import timestamp from './index.js';
import { readTimecodes } from './reader.js';

/**
 * `streamLatencyMode` end to end through RTSP: glass-to-glass latency (the time code burnt in at
 * capture, read from frames ffmpeg decoded) in each mode, switched live on one running daemon.
 */
describe('streamLatencyMode: glass-to-glass through RTSP', () => {
  let h: TestHost;
  let url: string;
  const p50: Record<string, number> = {};
  beforeAll(async () => {
    const port = await freePort();
    h = await createTestHost({
      // The time code (off by default) is what these tests read.
      plugins: [
        { def: rtsp, options: { port, host: '127.0.0.1' } },
        { def: timestamp, options: { timecode: true } },
      ],
      // Moving content (smpte's noise strip) at 30 fps, as small as the time code reads reliably.
      config: { streams: [testStream({ resolution: '320x240', fps: 30, bitrate: 500_000, source: 'videotestsrc:smpte' })] },
    });
    await h.host.hub.waitForParameters('stream1', 20_000);
    url = `rtsp://viewer:viewer-secret@127.0.0.1:${port}/stream1`;
  });
  afterAll(async () => {
    await h?.close();
    console.log(`glass-to-glass p50 over RTSP (320x240@30): ${JSON.stringify(p50)}`);
  });

  /** Sets the mode and waits for the rebuilt pipeline's frames (a mode change rebuilds the encoder). */
  async function switchTo(mode: string): Promise<void> {
    const media = h.host.media as unknown as { pipelineId(name: string): string | undefined };
    const before = media.pipelineId('stream1');
    expect((await putState(h, 'streamLatencyMode', mode, h.users.operator)).status).toBe(200);
    if (h.host.state.get('streamLatencyMode') === mode && before !== undefined)
      await until(() => media.pipelineId('stream1') !== undefined && media.pipelineId('stream1') !== before, 15_000, `the pipeline rebuilt for ${mode}`);
    await h.host.hub.waitForParameters('stream1', 15_000);
  }

  async function measure(mode: string): Promise<number> {
    const samples = await readTimecodes(url, { frames: 90 });
    // The first second includes ffmpeg's start (probing, the first GOP arriving at once).
    const lat = samples
      .slice(30)
      .flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs]))
      .sort((a, b) => a - b);
    expect(lat.length).toBeGreaterThan(45);
    const median = lat[Math.floor(lat.length / 2)]!;
    p50[mode] = Math.round(median);
    return median;
  }

  it('each mode stays within its budget, and the modes differ as the encoder buffers differ', async () => {
    // low is the default: x264 zerolatency, two-frame raw queues.
    const low = await measure('low');
    await switchTo('high');
    const high = await measure('high');
    await switchTo('normal');
    const normal = await measure('normal');
    await switchTo('low');
    const lowAgain = await measure('low-again');
    expect(low).toBeLessThan(100 * 1.5); // budget 100 ms (the reader's decode included; slack for a loaded machine)
    expect(normal).toBeLessThan(500);
    expect(high).toBeLessThan(2000);
    // Lookahead holds frames in the encoder: normal 7 frames (233 ms at 30 fps), high 30 (1 s).
    expect(normal - low).toBeGreaterThan(150);
    expect(high - normal).toBeGreaterThan(500);
    // And back: low is low again on the same daemon.
    expect(lowAgain).toBeLessThan(100 * 1.5);
  });
});
