import { spawn } from 'node:child_process';
import type { StreamHub } from '../hub.js';

/**
 * A JPEG of the newest picture of a stream, decoded from the hub's current GOP (keyframe up to the
 * newest frame) by a short-lived ffmpeg: no second capture of the camera, no work when nobody asks.
 */
export async function snapshotJpeg(hub: StreamHub, stream: string, timeoutMs = 5000): Promise<Buffer> {
  let gop = hub.currentGop(stream);
  if (gop.length === 0 || !gop[0]!.keyframe) {
    await hub.nextFrame(stream, timeoutMs);
    gop = hub.currentGop(stream);
  }
  if (gop.length === 0 || !gop[0]!.keyframe) throw new Error('no keyframe yet');
  const codec = gop[0]!.codec;
  if (codec === 'mjpeg') return gop[gop.length - 1]!.data;
  const frames = [...gop];
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', codec === 'h265' ? 'hevc' : 'h264', '-i', 'pipe:0', '-vf', `select=eq(n\\,${frames.length - 1})`, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => ff.kill('SIGKILL'), timeoutMs);
    ff.stdout.on('data', (d: Buffer) => out.push(d));
    ff.stderr.on('data', (d) => (err += d));
    ff.on('error', (e) => reject(new Error(`ffmpeg: ${e.message}`)));
    ff.on('close', (code) => {
      clearTimeout(timer);
      const jpeg = Buffer.concat(out);
      if (code === 0 && jpeg.length > 0) resolve(jpeg);
      else reject(new Error(`decoding failed: ${err.trim() || `ffmpeg exit ${code}`}`));
    });
    ff.stdin.on('error', () => undefined);
    for (const f of frames) ff.stdin.write(f.data);
    ff.stdin.end();
  });
}
