import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeTimecode } from './timecode.js';

const run = promisify(execFile);

export interface TimecodeSample {
  /** Frame number in what ffmpeg delivered. */
  frame: number;
  /** Capture time embedded in the picture (ms since the epoch), undefined when unreadable. */
  embeddedMs?: number;
  /** When this process had the decoded frame (ms since the epoch). */
  arrivalMs: number;
  /** arrival − embedded: glass-to-glass latency of camera → camd → network → decoder. */
  latencyMs?: number;
}

/**
 * Pulls frames from an RTSP URL with ffmpeg (decoded to grey), reads the time code of each, and
 * reports the latency. ffmpeg runs with its low-delay flags so its own buffering is not measured.
 */
export async function readTimecodes(
  url: string,
  opts: { frames: number; transport?: 'tcp' | 'udp'; timeoutMs?: number; onSample?: (s: TimecodeSample) => void },
): Promise<TimecodeSample[]> {
  const transport = opts.transport ?? 'tcp';
  const { stdout } = await run(
    'ffprobe',
    ['-v', 'error', '-rtsp_transport', transport, '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', url],
    { timeout: opts.timeoutMs ?? 30_000 },
  );
  const [width, height] = stdout.trim().split(',').map(Number) as [number, number];
  if (!width || !height) throw new Error(`cannot read the picture size of ${url.replace(/\/\/[^@/]*@/, '//')}`);
  const ff = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-fflags',
      'nobuffer',
      '-flags',
      'low_delay',
      '-rtsp_transport',
      transport,
      '-i',
      url,
      '-frames:v',
      String(opts.frames),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const samples: TimecodeSample[] = [];
  const timer = setTimeout(() => ff.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  ff.stdout.on(
    'data',
    timecodeFrames(width, height, (embeddedMs, arrivalMs) => {
      const s: TimecodeSample = { frame: samples.length, embeddedMs, arrivalMs, latencyMs: embeddedMs === undefined ? undefined : arrivalMs - embeddedMs };
      samples.push(s);
      opts.onSample?.(s);
    }),
  );
  let stderr = '';
  ff.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => ff.on('close', r));
  clearTimeout(timer);
  if (samples.length === 0) throw new Error(`ffmpeg read no frame (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`);
  return samples;
}

/**
 * A `data` handler for a stream of grey W×H frames (ffmpeg `-f rawvideo -pix_fmt gray`): calls
 * `onFrame` with each frame's time code (undefined when unreadable) and when its last byte arrived.
 * Pipe-sized chunks (64 KiB) are gathered and joined once per frame, so that reading 1080p60 keeps up
 * with ffmpeg (joining on every chunk copied a frame thirty times over).
 */
export function timecodeFrames(width: number, height: number, onFrame: (embeddedMs: number | undefined, arrivalMs: number) => void): (chunk: Buffer) => void {
  const frameBytes = width * height;
  let chunks: Buffer[] = [];
  let have = 0;
  return (chunk) => {
    const arrivalMs = Date.now();
    chunks.push(chunk);
    have += chunk.length;
    if (have < frameBytes) return;
    let pending = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
    while (pending.length >= frameBytes) {
      onFrame(decodeTimecode({ width, height, format: 'GRAY', data: pending.subarray(0, frameBytes) }), arrivalMs);
      pending = pending.subarray(frameBytes);
    }
    chunks = pending.length ? [pending] : [];
    have = pending.length;
  };
}
