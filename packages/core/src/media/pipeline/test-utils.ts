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

/** Largest gap between consecutive frames, in ms of arrival time. */
export function largestGapMs(frames: EncodedFrame[]): number {
  let gap = 0;
  for (let i = 1; i < frames.length; i++) gap = Math.max(gap, frames[i]!.receivedAt - frames[i - 1]!.receivedAt);
  return gap;
}
