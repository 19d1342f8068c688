import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerProcess, type RawFrame } from './worker-process.js';

const run = promisify(execFile);
const TAIL = 'h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! gdppay ! fdsink fd=3 sync=false';
const RAW = 'video/x-raw,format=I420,width=320,height=240,framerate=15/1';
const RED_SQUARE = fileURLToPath(new URL('./fixtures/red-square.ts', import.meta.url));

const workers: WorkerProcess[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
});

function start(launch: string, modules: Array<{ module: string }> = []): WorkerProcess {
  const w = new WorkerProcess(launch, modules, { name: 'test' });
  workers.push(w);
  return w;
}

/** Frames until `pred` holds for one (inclusive). */
function framesUntil(w: WorkerProcess, pred: (f: RawFrame, all: RawFrame[]) => boolean, timeoutMs = 15_000): Promise<RawFrame[]> {
  const all: RawFrame[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`condition not met after ${all.length} frames`)), timeoutMs);
    const onFrame = (f: RawFrame) => {
      all.push(f);
      if (!pred(f, all)) return;
      clearTimeout(timer);
      w.off('frame', onFrame);
      resolve(all);
    };
    w.on('frame', onFrame);
  });
}

/** RGB of one pixel of the first picture of an H.264 elementary stream (decoded by ffmpeg). */
async function pixel(frames: RawFrame[], x: number, y: number): Promise<[number, number, number]> {
  const dir = mkdtempSync(join(tmpdir(), 'camd-px-'));
  try {
    const file = join(dir, 'v.h264');
    writeFileSync(file, Buffer.concat(frames.map((f) => f.data)));
    const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-vf', `format=rgb24,crop=1:1:${x}:${y}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
      encoding: 'buffer',
    });
    return [stdout[0]!, stdout[1]!, stdout[2]!];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('pipeline worker process (real GStreamer)', () => {
  it('answers a keyframe request with the next frame, long before the GOP ends', async () => {
    // A 20 s GOP: without the request the second keyframe would come 300 frames later.
    const w = start(`videotestsrc is-live=true ! ${RAW} ! x264enc name=encoder tune=zerolatency key-int-max=300 bframes=0 ! ${TAIL}`);
    const first = await framesUntil(w, (_, all) => all.length === 5);
    expect(first.map((f) => f.keyframe)).toEqual([true, false, false, false, false]);
    w.requestKeyframe();
    const after = await framesUntil(w, (f) => f.keyframe);
    // GStreamer handles the event between two frames: at most a frame or two are already encoded.
    expect(after.length).toBeLessThanOrEqual(3);
    expect(after.at(-1)!).toMatchObject({ width: 320, height: 240 });
    // Capture time is wall clock.
    expect(Math.abs(after.at(-1)!.captureTimeMs - Date.now())).toBeLessThan(2000);
  });

  it("runs a fragment's worker module: a cairooverlay draw handler on the streaming thread paints the frames", async () => {
    const w = start(`videotestsrc is-live=true pattern=black ! ${RAW} ! videoconvert ! cairooverlay name=overlay ! videoconvert ! video/x-raw,format=I420 ! x264enc name=encoder tune=zerolatency key-int-max=15 bframes=0 ! ${TAIL}`, [
      { module: RED_SQUARE },
    ]);
    const logs: string[] = [];
    w.on('log', (l) => logs.push(`${l.source}: ${l.message}`));
    const frames = await framesUntil(w, (_, all) => all.length === 3);
    const [r, g, b] = await pixel(frames, 10, 10);
    expect(r).toBeGreaterThan(200);
    expect(g + b).toBeLessThan(80);
    const outside = await pixel(frames, 200, 200);
    expect(Math.max(...outside)).toBeLessThan(40);
    expect(logs).toEqual([`${RED_SQUARE}: first draw, stream test`]);
  });

  it('sets element and pad properties in PLAYING and rejects unknown ones precisely', async () => {
    const w = start(
      `compositor name=mix ! ${RAW} ! x264enc name=encoder tune=zerolatency bframes=0 ! ${TAIL}  videotestsrc is-live=true name=src ! ${RAW} ! mix.sink_0`,
    );
    await framesUntil(w, (_, all) => all.length === 2);
    await w.setProperty('encoder', 'bitrate', 500);
    await w.setProperty('src', 'pattern', 'ball'); // an enum by its nick
    await w.setProperty('mix', 'xpos', 16, 'sink_0');
    await expect(w.setProperty('nope', 'bitrate', 1)).rejects.toThrow('no element named "nope" in the pipeline');
    await expect(w.setProperty('encoder', 'no-such-thing', 1)).rejects.toThrow('"encoder" has no property "no-such-thing"');
    await expect(w.setProperty('mix', 'xpos', 1, 'sink_9')).rejects.toThrow('element "mix" has no pad "sink_9"');
    await framesUntil(w, (_, all) => all.length === 2); // still running
  });

  it("reports GStreamer's own error message and exits", async () => {
    const w = start(`v4l2src device=/dev/camd-no-such-camera ! videoconvert ! x264enc name=encoder ! ${TAIL}`);
    const errors: Array<{ message: string; source?: string }> = [];
    w.on('error', (e) => errors.push(e));
    const exit = new Promise<{ code: number | null }>((r) => w.once('exit', r));
    expect((await exit).code).toBe(1);
    expect(errors[0]).toMatchObject({ message: expect.stringContaining('/dev/camd-no-such-camera'), source: 'v4l2src0' });
  });

  it('reports a launch line GStreamer cannot parse', async () => {
    const w = start('videotestsrc ! ! fakesink');
    const errors: Array<{ message: string }> = [];
    w.on('error', (e) => errors.push(e));
    await new Promise((r) => w.once('exit', r));
    expect(errors[0]!.message).toMatch(/^could not build the pipeline: /);
  });

  it('leaves no process behind after stop', async () => {
    const w = start(`videotestsrc is-live=true ! ${RAW} ! x264enc name=encoder tune=zerolatency ! ${TAIL}`);
    await framesUntil(w, () => true);
    const pid = w.pid!;
    await w.stop();
    expect(w.running).toBe(false);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});
