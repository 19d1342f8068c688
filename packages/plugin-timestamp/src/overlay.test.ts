import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, putState, testStream, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import timestamp from './index.js';
import { readTimecodes } from './reader.js';
import { decodeTimecode } from './timecode.js';
import { textLayout, type Corner } from './layout.js';
import { DEFAULT_FORMAT, endsWithMilliseconds } from './format.js';
import { collectFrames, decodeH264, ocrTimestamp, type GrayFrame } from './test-utils.js';

/** The time code is off by default: these tests read it. */
const TIMESTAMP_WITH_CODE = { def: timestamp, options: { timecode: true } };
let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

async function startRtsp(extra: Record<string, unknown> = {}) {
  const port = await freePort();
  host = await createTestHost({
    plugins: [{ def: rtsp, options: { port, host: '127.0.0.1' } }, TIMESTAMP_WITH_CODE],
    config: { streams: [testStream({ resolution: '320x240', bitrate: 800_000, source: 'videotestsrc:smpte', ...extra })] },
  });
  await host.host.hub.waitForParameters('stream1', 15_000);
  return `rtsp://viewer:viewer-secret@127.0.0.1:${port}/stream1`;
}

/** A host with the timestamp plugin only (time code on, unless `'default'`: no option); frames are read from the hub. */
async function startHub(stream: Record<string, unknown>, timecode: boolean | 'default' = true) {
  const plugin = timecode === 'default' ? timestamp : { def: timestamp, options: { timecode } };
  host = await createTestHost({ plugins: [plugin], config: { streams: [testStream({ source: 'videotestsrc:smpte', ...stream })] } });
  await host.host.hub.waitForParameters('stream1', 20_000);
  return host;
}

/** `count` frames from the next keyframe on, decoded, with the capture time the pipeline reported. */
async function decodedFrames(
  h: TestHost,
  count: number,
  width: number,
  height: number,
  stream = 'stream1',
): Promise<Array<{ frame: GrayFrame; captureMs: number }>> {
  const frames = await collectFrames(h.host.hub, stream, count, 20_000);
  const decoded = await decodeH264(Buffer.concat(frames.map((f) => f.data)), width, height);
  expect(decoded.length).toBe(frames.length);
  return decoded.map((frame, i) => ({ frame, captureMs: frames[i]!.captureTimeMs }));
}

/**
 * The code shows base time + running time truncated to µs (twice: the epoch and the running time are
 * each truncated by GLib); camd reports the same sum from ns. They differ by less than 2 µs.
 */
function expectNear(decoded: number | undefined, captureMs: number): void {
  expect(decoded, 'time code').toBeDefined();
  expect(Math.abs(decoded! - captureMs), `${decoded} vs ${captureMs}`).toBeLessThan(0.002);
}

/**
 * The text shows the capture time truncated: to the millisecond with SSS, to the microsecond with
 * SSSSSS. GLib truncates the epoch and the running time to µs each, so it may show up to 2 µs less.
 */
function expectShown(shown: number | undefined, captureMs: number, text: string, format = DEFAULT_FORMAT): void {
  expect(shown, `OCR read "${text}"`).toBeDefined();
  const below = captureMs - shown!;
  const what = `${text} vs ${new Date(captureMs).toISOString()} (+${(captureMs % 1).toFixed(3)} ms)`;
  expect(below, what).toBeGreaterThan(-0.0005);
  expect(below, what).toBeLessThan((endsWithMilliseconds(format) ? 1 : 0.001) + 0.0025);
}

/** The timestamp text of a frame, read by tesseract, as ms since the epoch (to the ms or µs it shows). */
async function ocrTime(frame: GrayFrame, opts: { format?: string; corner?: Corner; timecode?: boolean } = {}): Promise<{ text: string; ms?: number }> {
  const format = opts.format ?? DEFAULT_FORMAT;
  const layout = textLayout({ width: frame.width, height: frame.height, format, corner: opts.corner ?? 'top-left', size: 0, timecode: opts.timecode ?? true });
  return ocrTimestamp(frame, layout, format);
}

describe('plugin-timestamp through camd', () => {
  // Each size: the code on every decoded frame equals the capture time camd reported for that frame,
  // and the text read by OCR from two frames shows that same time (to the ms it prints).
  const sizes = [
    { resolution: '320x240', fps: 15, bitrate: 500_000, frames: 12 },
    { resolution: '1280x720', fps: 15, bitrate: 4_000_000, frames: 8 },
    { resolution: '1920x1080', fps: 10, bitrate: 8_000_000, frames: 6 },
    { resolution: '3840x2160', fps: 2, bitrate: 20_000_000, frames: 2 },
  ];
  for (const s of sizes) {
    it(`${s.resolution}: time code and text on decoded frames show the reported capture time`, async () => {
      const [width, height] = s.resolution.split('x').map(Number) as [number, number];
      const h = await startHub({ resolution: s.resolution, fps: s.fps, bitrate: s.bitrate });
      const frames = await decodedFrames(h, s.frames, width, height);
      for (const f of frames) expectNear(decodeTimecode({ ...f.frame, format: 'GRAY' }), f.captureMs);
      for (const f of frames.slice(-2)) {
        const { text, ms } = await ocrTime(f.frame);
        // SSS: milliseconds, three digits.
        expect(text, 'OCR of the timestamp').toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
        expectShown(ms, f.captureMs, text);
      }
    });
  }

  it('shows the capture time on streams that read a shared capture (shmsrc do-timestamp=true)', async () => {
    host = await createTestHost({
      plugins: [TIMESTAMP_WITH_CODE],
      config: {
        streams: [
          testStream({ source: 'videotestsrc:ball' }),
          testStream({ path: '/stream2', resolution: '640x480', bitrate: 1_500_000, source: 'videotestsrc:ball' }),
        ],
      },
    });
    await host.host.hub.waitForParameters('stream2', 20_000);
    const frames = await decodedFrames(host, 6, 640, 480, 'stream2');
    for (const f of frames) expectNear(decodeTimecode({ ...f.frame, format: 'GRAY' }), f.captureMs);
    const last = frames.at(-1)!;
    const { text, ms } = await ocrTime(last.frame);
    expectShown(ms, last.captureMs, text);
  });

  it('embeds a time code that decodes, over RTSP, to the capture time: positive, plausible latency', async () => {
    const url = await startRtsp();
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

  it('time code off by default; every setting applies live: time code on and off, text off and on, format (µs), corner (no restart)', async () => {
    const h = await startHub({ resolution: '640x480', bitrate: 1_500_000 }, 'default');
    const restarts = async () => {
      const {
        restarts: n,
        errors,
        lastError,
      } = ((await (await h.fetch('/api/stats')).json()) as Record<string, { restarts: number; errors: number; lastError: string | null }>).stream1!;
      return { restarts: n, errors, lastError };
    };
    const before = await restarts();
    const next = async () => {
      await new Promise((r) => setTimeout(r, 300));
      return (await decodedFrames(h, 2, 640, 480))[1]!;
    };

    // The picture and its timestamp, no time code (its digits would cover the top-right corner).
    expect(await (await h.fetch('/api/state/timecodeEnabled')).json()).toMatchObject({ value: false });
    const plain = await next();
    expect(decodeTimecode({ ...plain.frame, format: 'GRAY' })).toBeUndefined();
    const first = await ocrTime(plain.frame, { timecode: false });
    expectShown(first.ms, plain.captureMs, first.text);

    expect((await putState(h, 'timecodeEnabled', true)).status).toBe(200);
    expect((await putState(h, 'timestampEnabled', false)).status).toBe(200);
    const off = await next();
    expect((await ocrTime(off.frame)).text).not.toMatch(/\d{4}-\d\d-\d\d/);
    expectNear(decodeTimecode({ ...off.frame, format: 'GRAY' }), off.captureMs);

    // SSSSSS: microseconds.
    const format = 'DD/MM/YYYY HH:mm:ss.SSSSSS';
    expect((await putState(h, 'timestampEnabled', true)).status).toBe(200);
    expect((await putState(h, 'timestampFormat', format)).status).toBe(200);
    expect((await putState(h, 'timestampPosition', 'top-right')).status).toBe(200);
    const moved = await next();
    expectNear(decodeTimecode({ ...moved.frame, format: 'GRAY' }), moved.captureMs);
    const { text, ms } = await ocrTime(moved.frame, { format, corner: 'top-right' });
    expect(text).toMatch(/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d\.\d{6}$/);
    expectShown(ms, moved.captureMs, text, format);

    expect((await putState(h, 'timecodeEnabled', false)).status).toBe(200);
    expect((await putState(h, 'timestampPosition', 'top-left')).status).toBe(200);
    const without = await next();
    expect(decodeTimecode({ ...without.frame, format: 'GRAY' })).toBeUndefined();
    // Without the code the text may be larger: read it with that layout.
    const wide = await ocrTime(without.frame, { format, timecode: false });
    expectShown(wide.ms, without.captureMs, wide.text, format);
    expect(await restarts(), 'no restart, no error').toEqual(before);
  });

  it('refuses invalid settings with the reason and changes nothing', async () => {
    await startRtsp();
    const bad = await putState(host!, 'timestampFormat', 'HH:mm" ! fakesink');
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/pattern of YYYY/);
    expect((await putState(host!, 'timestampPosition', 'middle')).status).toBe(400);
    expect((await putState(host!, 'timestampSize', 500)).status).toBe(400);
    expect(host!.host.state.get('timestampFormat')).toBe('YYYY-MM-DD HH:mm:ss.SSS');
  });
});
