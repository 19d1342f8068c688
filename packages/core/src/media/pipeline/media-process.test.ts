import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaProcess, type MediaPipeline, type RawFrame } from './media-process.js';
import { MEDIA_OUT_ELEMENT } from './protocol.js';

const TAIL = `h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! gdppay ! fdsink name=${MEDIA_OUT_ELEMENT} sync=false`;
const RAW = 'video/x-raw,format=I420,width=320,height=240,framerate=15/1';
const ENCODE = `x264enc name=encoder tune=zerolatency speed-preset=ultrafast key-int-max=15 bframes=0 ! ${TAIL}`;

const processes: MediaProcess[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.close();
});

function mediaProcess(): MediaProcess {
  const p = new MediaProcess();
  processes.push(p);
  return p;
}

/** Frames until `pred` holds for one (inclusive). */
function framesUntil(w: MediaPipeline, pred: (f: RawFrame, all: RawFrame[]) => boolean, timeoutMs = 15_000): Promise<RawFrame[]> {
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

const ended = (w: MediaPipeline) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => w.once('exit', r));

describe('media process (real GStreamer)', () => {
  it('runs several pipelines in one process, each with its own media stream and wall-clock capture times', async () => {
    const m = mediaProcess();
    const a = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    const b = m.start(`videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! ${ENCODE}`, { output: true });
    const [fa, fb] = await Promise.all([framesUntil(a, (_, all) => all.length === 15), framesUntil(b, (_, all) => all.length === 30)]);
    expect(a.pid).toBe(b.pid);
    expect(fa.every((f) => f.width === 320 && f.height === 240)).toBe(true);
    expect(fb.every((f) => f.width === 160 && f.height === 120)).toBe(true);
    expect(fa[0]!.keyframe).toBe(true);
    // Capture times are wall clock, 1/15 s and 1/30 s apart.
    expect(Math.abs(fa.at(-1)!.captureTimeMs - Date.now())).toBeLessThan(2000);
    expect((fa.at(-1)!.captureTimeMs - fa[0]!.captureTimeMs) / 14).toBeCloseTo(1000 / 15, 0);
    expect((fb.at(-1)!.captureTimeMs - fb[0]!.captureTimeMs) / 29).toBeCloseTo(1000 / 30, 0);
  });

  it('an error in one pipeline ends that pipeline only; the others keep delivering', async () => {
    const m = mediaProcess();
    const good = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    await framesUntil(good, (_, all) => all.length === 3);
    const bad = m.start(`v4l2src device=/dev/camd-no-such-camera ! videoconvert ! ${ENCODE}`, { output: true });
    const errors: Array<{ message: string; source?: string }> = [];
    bad.on('gstError', (e) => errors.push(e));
    expect((await ended(bad)).code).toBe(1);
    expect(errors[0]).toMatchObject({ message: expect.stringContaining('/dev/camd-no-such-camera'), source: 'v4l2src0' });
    const after = await framesUntil(good, (_, all) => all.length === 10);
    expect(after).toHaveLength(10);
    expect(good.running).toBe(true);
    // An injected fault takes the same path as a GStreamer error.
    const exit = ended(good);
    good.fail('drill');
    expect(await exit).toEqual({ code: 1, signal: null });
  });

  it('answers a keyframe request with the next frame, long before the GOP ends', async () => {
    // A 20 s GOP: without the request the second keyframe would come 300 frames later.
    const w = mediaProcess().start(`videotestsrc is-live=true ! ${RAW} ! x264enc name=encoder tune=zerolatency key-int-max=300 bframes=0 ! ${TAIL}`, {
      output: true,
    });
    const first = await framesUntil(w, (_, all) => all.length === 5);
    expect(first.map((f) => f.keyframe)).toEqual([true, false, false, false, false]);
    w.requestKeyframe();
    const after = await framesUntil(w, (f) => f.keyframe);
    // GStreamer handles the event between two frames: at most a frame or two are already encoded.
    expect(after.length).toBeLessThanOrEqual(3);
  });

  it('sets element and pad properties in PLAYING and rejects unknown ones precisely', async () => {
    const w = mediaProcess().start(`compositor name=mix ! ${RAW} ! ${ENCODE}  videotestsrc is-live=true name=src ! ${RAW} ! mix.sink_0`, { output: true });
    await framesUntil(w, (_, all) => all.length === 2);
    await w.setProperty('encoder', 'bitrate', 500);
    await w.setProperty('src', 'pattern', 'ball'); // an enum by its nick
    await w.setProperty('mix', 'xpos', 16, 'sink_0');
    await expect(w.setProperty('nope', 'bitrate', 1)).rejects.toThrow('no element named "nope" in the pipeline');
    await expect(w.setProperty('encoder', 'no-such-thing', 1)).rejects.toThrow('"encoder" has no property "no-such-thing"');
    await expect(w.setProperty('mix', 'xpos', 1, 'sink_9')).rejects.toThrow('element "mix" has no pad "sink_9"');
    await framesUntil(w, (_, all) => all.length === 2); // still running
  });

  it('reports a launch line GStreamer cannot parse', async () => {
    const w = mediaProcess().start('videotestsrc ! ! fakesink', { output: false });
    const errors: Array<{ message: string }> = [];
    w.on('gstError', (e) => errors.push(e));
    expect((await ended(w)).code).toBe(1);
    expect(errors[0]!.message).toMatch(/^could not build the pipeline: /);
  });

  it('a crash of the process ends every pipeline in it; the next start runs in a fresh process', async () => {
    const m = mediaProcess();
    const a = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    const b = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    await Promise.all([framesUntil(a, () => true), framesUntil(b, () => true)]);
    const pid = a.pid!;
    const exits = Promise.all([ended(a), ended(b)]);
    process.kill(pid, 'SIGKILL');
    expect(await exits).toEqual([
      { code: null, signal: 'SIGKILL' },
      { code: null, signal: 'SIGKILL' },
    ]);
    const c = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    await framesUntil(c, (_, all) => all.length === 3);
    expect(c.pid).not.toBe(pid);
  });

  it('a pipeline run leaves nothing behind: ten runs, the same open files in the media process', async () => {
    const m = mediaProcess();
    const keep = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    await framesUntil(keep, () => true);
    const openFiles = () => readdirSync(`/proc/${keep.pid}/fd`).length;
    const run = async () => {
      const p = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
      await framesUntil(p, () => true);
      await p.stop();
    };
    await run();
    const before = openFiles();
    for (let i = 0; i < 10; i++) await run();
    // Wrappers of bus messages (which hold their source) are collected every 10 s in the media process:
    // the count comes back within that. Each leaked pipeline kept its bus's two wakeup sockets: 20 more
    // after ten runs, for good.
    await expect.poll(openFiles, { timeout: 15_000, interval: 250 }).toBeLessThanOrEqual(before + 1);
  });

  it('stopping a pipeline keeps the process for the others; closing leaves no process behind', async () => {
    const m = mediaProcess();
    const a = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    const b = m.start(`videotestsrc is-live=true ! ${RAW} ! ${ENCODE}`, { output: true });
    await Promise.all([framesUntil(a, () => true), framesUntil(b, () => true)]);
    await a.stop();
    expect(a.running).toBe(false);
    await framesUntil(b, (_, all) => all.length === 5);
    const pid = b.pid!;
    await m.close();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(b.running).toBe(false);
  });
});
