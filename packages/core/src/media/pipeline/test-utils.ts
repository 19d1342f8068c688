import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StreamHub } from '../hub.js';
import type { EncodedFrame } from '../types.js';

const run = promisify(execFile);

/**
 * Collects frames of a stream through a real hub consumer for `ms` milliseconds counted from the first
 * frame it receives (a consumer joins at the next keyframe).
 */
export async function collectFrames(hub: StreamHub, stream: string, ms: number): Promise<EncodedFrame[]> {
  const frames: EncodedFrame[] = [];
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const c = hub.subscribe(stream, {
    name: 'test',
    onFrame: (f) => {
      if (frames.push(f) === 1) first();
    },
  });
  await started;
  await new Promise((r) => setTimeout(r, ms));
  c.close();
  return frames;
}

/** Waits until `pred` holds for a frame of the stream. */
export async function waitForFrame(hub: StreamHub, stream: string, pred: (f: EncodedFrame) => boolean, timeoutMs = 15_000): Promise<EncodedFrame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await hub.nextFrame(stream, Math.max(1, deadline - Date.now()));
    if (pred(f)) return f;
  }
}

/** What ffprobe says of an H.264 elementary stream made of these frames (from a keyframe on). */
export async function probe(frames: EncodedFrame[]): Promise<{ width: number; height: number; profile: string; codec_name: string }> {
  const start = frames.findIndex((f) => f.keyframe);
  if (start < 0) throw new Error('no keyframe among the frames');
  const dir = mkdtempSync(join(tmpdir(), 'camd-probe-'));
  try {
    const file = join(dir, 'v.h264');
    writeFileSync(file, Buffer.concat(frames.slice(start).map((f) => f.data)));
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height,profile,codec_name',
      '-of',
      'json',
      file,
    ]);
    return (JSON.parse(stdout) as { streams: Array<{ width: number; height: number; profile: string; codec_name: string }> }).streams[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * How continuous a run of frames is:
 * - `seqBreaks`: places where a frame is missing (the hub numbers every frame of a stream);
 * - `captureGapMs`: the largest gap in capture time, i.e. in the picture's own timeline: a pipeline
 *   that paused, restarted or dropped frames shows here, whatever the machine's load;
 * - `deliveryGapMs`: the largest gap in arrival at the daemon, which also holds the time the daemon
 *   was not scheduled: on a machine with a core kept busy, 482 ms was measured while another stream's
 *   media process was being started again.
 */
export function continuity(frames: EncodedFrame[]): { seqBreaks: number; captureGapMs: number; deliveryGapMs: number } {
  let seqBreaks = 0;
  let captureGapMs = 0;
  let deliveryGapMs = 0;
  for (let i = 1; i < frames.length; i++) {
    const [a, b] = [frames[i - 1]!, frames[i]!];
    if (b.seq !== a.seq + 1) seqBreaks++;
    captureGapMs = Math.max(captureGapMs, b.captureTimeMs - a.captureTimeMs);
    deliveryGapMs = Math.max(deliveryGapMs, b.receivedAt - a.receivedAt);
  }
  return { seqBreaks, captureGapMs, deliveryGapMs };
}
