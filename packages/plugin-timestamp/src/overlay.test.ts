import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import timestamp from './index.js';
import { readTimecodes } from './reader.js';

const run = promisify(execFile);
let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

async function start(extra: Record<string, unknown> = {}) {
  const port = await freePort();
  host = await createTestHost({
    plugins: [{ def: rtsp, options: { port, host: '127.0.0.1' } }, timestamp],
    config: { streams: [testStream({ resolution: '320x240', bitrate: 800_000, source: 'videotestsrc:smpte', ...extra })] },
  });
  await host.host.hub.waitForParameters('stream1', 15_000);
  return `rtsp://viewer:viewer-secret@127.0.0.1:${port}/stream1`;
}

/** One decoded grey frame (luma) from the stream. */
async function grabLuma(url: string): Promise<Buffer> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-rtsp_transport', 'tcp', '-i', url, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 24, timeout: 30_000 });
  return stdout;
}

/** Mean absolute difference of two luma images inside a rectangle. */
function diff(a: Buffer, b: Buffer, x0: number, y0: number, w: number, h: number, stride = 320): number {
  let sum = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) sum += Math.abs(a[y * stride + x]! - b[y * stride + x]!);
  return sum / (w * h);
}

const put = (h: TestHost, key: string, value: unknown) => h.fetch(`/api/state/${key}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });

describe('plugin-timestamp', () => {
  it('embeds a time code that decodes, over RTSP, to the capture time: positive, plausible latency', async () => {
    const url = await start();
    const samples = await readTimecodes(url, { frames: 30 });
    const readable = samples.filter((s) => s.embeddedMs !== undefined);
    expect(readable.length).toBeGreaterThanOrEqual(28);
    for (const s of readable) {
      expect(s.latencyMs!).toBeGreaterThan(0);
      expect(s.latencyMs!).toBeLessThan(2000);
    }
    // Consecutive frames carry capture times 1/15 s apart.
    const steps = readable.slice(1).map((s, i) => s.embeddedMs! - readable[i]!.embeddedMs!);
    for (const d of steps) expect(Math.abs(d - 1000 / 15)).toBeLessThan(10);
  });

  it('burns text into the picture only while enabled, switched live', async () => {
    const url = await start();
    const withText = await grabLuma(url);
    expect((await put(host!, 'timestampEnabled', false)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const without = await grabLuma(url);
    // Top-left text region differs; the middle of the picture (colour bars) does not.
    expect(diff(withText, without, 0, 15, 200, 40)).toBeGreaterThan(5);
    expect(diff(withText, without, 100, 120, 100, 40)).toBeLessThan(5);
  });

  it('refuses invalid settings with the reason and changes nothing', async () => {
    await start();
    const bad = await put(host!, 'timestampFormat', 'HH:mm" ! fakesink');
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/pattern of YYYY/);
    expect((await put(host!, 'timestampPosition', 'middle')).status).toBe(400);
    expect(host!.host.state.get('timestampFormat')).toBe('YYYY-MM-DD HH:mm:ss.SSS');
  });
});
