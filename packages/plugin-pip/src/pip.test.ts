import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin, PLUGIN_API_VERSION } from '@camd/core';
import { createTestHost, freePort, putState, testStream, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import pip from './index.js';

const W = 320;
const H = 240;
let host: TestHost | undefined;
let stop: (() => void) | undefined;
afterEach(async () => {
  stop?.();
  await host?.close();
  host = stop = undefined;
});

/** One RTSP session kept open for the whole test, decoding to RGB; returns the newest full frame. */
function reader(url: string) {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const size = W * H * 3;
  let buf = Buffer.alloc(0);
  let latest: Buffer | undefined;
  let count = 0;
  ff.stdout.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= size) {
      latest = buf.subarray(0, size);
      buf = buf.subarray(size);
      count++;
    }
  });
  stop = () => ff.kill('SIGKILL');
  return { latest: () => latest, count: () => count, pid: ff.pid };
}

/** Mean colour of a rectangle. */
function mean(f: Buffer, x0: number, y0: number, w: number, h: number): [number, number, number] {
  const s = [0, 0, 0];
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) for (let c = 0; c < 3; c++) s[c]! += f[(y * W + x) * 3 + c]!;
  return s.map((v) => v / (w * h)) as [number, number, number];
}
const isRed = ([r, g, b]: [number, number, number]) => r > 180 && g < 70 && b < 70;

describe('plugin-pip', () => {
  it('insets the second source in the configured corner and moves it live, on the same RTSP session', async () => {
    const port = await freePort();
    host = await createTestHost({
      plugins: [{ def: rtsp, options: { port, host: '127.0.0.1' } }, pip],
      // Primary: a grey-ish pattern with no red in the corners; secondary: solid red.
      config: { streams: [testStream({ source: 'videotestsrc:gamut', bitrate: 800_000 }), testStream({ path: '/stream2', source: 'videotestsrc:red' })] },
    });
    expect((await putState(host, 'pipEnabled', true)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    const r = reader(`rtsp://viewer:viewer-secret@127.0.0.1:${port}/stream1`);
    // Default layout: bottom-right at 0.25 → 80x60 at 240,180.
    await until(() => !!r.latest() && isRed(mean(r.latest()!, 250, 190, 60, 40)), 20_000, 'red inset bottom-right');
    expect(isRed(mean(r.latest()!, 10, 10, 60, 40))).toBe(false);

    const framesBefore = r.count();
    expect(
      (await putState(host, 'pipLayout', { mainSource: 'primary', pipSource: 'secondary', pipPosition: 'top-left', pipScale: 0.5, pipBorder: false })).status,
    ).toBe(200);
    // 0.5 top-left → 160x120 at 0,0.
    await until(() => isRed(mean(r.latest()!, 20, 20, 120, 80)), 10_000, 'red inset top-left');
    expect(isRed(mean(r.latest()!, 250, 190, 60, 40))).toBe(false);
    expect(r.count()).toBeGreaterThan(framesBefore);
    // The same RTSP session carried the change: still exactly one client, and it never reconnected.
    const stats = (await (await host.fetch('/api/stats')).json()) as Record<string, { rtsp: { sessions: number } }>;
    expect(stats.stream1!.rtsp.sessions).toBe(1);
  });

  it("reads the secondary stream's source through a shared capture when it is shared (a camera opens once)", async () => {
    const port = await freePort();
    // PiP shares a device source by itself; test patterns need no sharing, so a plugin asks for it here.
    const share = definePlugin({ name: 'test-share-stream2', apiVersion: PLUGIN_API_VERSION, setup: (ctx) => ctx.streams.shareSource('stream2') });
    host = await createTestHost({
      plugins: [{ def: rtsp, options: { port, host: '127.0.0.1' } }, pip, share],
      config: { streams: [testStream({ source: 'videotestsrc:gamut', bitrate: 800_000 }), testStream({ path: '/stream2', source: 'videotestsrc:red' })] },
    });
    const stats = async () =>
      (await (await host!.fetch('/api/stats')).json()) as Record<string, { errors: number; capture?: { id: string; streams: string[] } }>;
    expect((await stats()).stream2!.capture).toMatchObject({ id: 'capture1', streams: ['stream2'] });
    expect((await putState(host, 'pipEnabled', true)).status).toBe(200);
    const r = reader(`rtsp://viewer:viewer-secret@127.0.0.1:${port}/stream1`);
    await until(() => !!r.latest() && isRed(mean(r.latest()!, 250, 190, 60, 40)), 20_000, 'red inset from the shared capture');
    // The inset depends on that capture: when it dies, the primary stream's pipeline fails too, and
    // both come back with it.
    const errorsBefore = (await stats()).stream1!.errors;
    expect((host.host.media as unknown as { failCapture(id: string): boolean }).failCapture('capture1')).toBe(true);
    const deadline = Date.now() + 20_000;
    while ((await stats()).stream1!.errors === errorsBefore && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect((await stats()).stream1!.errors).toBeGreaterThan(errorsBefore);
    const seen = r.count();
    await until(() => r.count() > seen + 10 && isRed(mean(r.latest()!, 250, 190, 60, 40)), 30_000, 'red inset again after the capture restarted');
  });

  it('refuses an invalid layout with the reason and keeps the current one', async () => {
    host = await createTestHost({ plugins: [pip], media: false });
    const bad = await putState(host, 'pipLayout', { mainSource: 'primary', pipSource: 'secondary', pipPosition: 'middle', pipScale: 0.25, pipBorder: true });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/pipLayout.pipPosition: expected one of top-left\|top-right\|bottom-left\|bottom-right/);
    expect(
      (await putState(host, 'pipLayout', { mainSource: 'primary', pipSource: 'secondary', pipPosition: 'top-left', pipScale: 0.9, pipBorder: true })).status,
    ).toBe(400);
    expect(host.host.state.get('pipLayout')).toMatchObject({ pipPosition: 'bottom-right', pipScale: 0.25 });
    expect((await putState(host, 'pipEnabled', 'yes')).status).toBe(400);
  });
});
