import { spawn } from 'node:child_process';
import type { StreamHub } from '../hub.js';
import { sameParameters } from '../codec.js';
import type { CodecParameters, EncodedFrame } from '../types.js';

const START_CODE = Buffer.from([0, 0, 0, 1]);
/**
 * A GOP that has run longer than this (long GovLength, as NVRs set for storage) would mean decoding
 * hundreds of frames: the encoder is asked for a keyframe instead, and only that one is decoded.
 */
export const SNAPSHOT_MAX_GOP_MS = 2000;
const KEYFRAME_WAIT_MS = 2000;

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
  let frames = [...gop];
  if (frames.at(-1)!.captureTimeMs - frames[0]!.captureTimeMs > SNAPSHOT_MAX_GOP_MS) {
    const fresh = await freshKeyframe(hub, stream);
    if (fresh) frames = [fresh];
  }
  return new Promise((resolve, reject) => {
    const ff = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        codec === 'h265' ? 'hevc' : 'h264',
        '-i',
        'pipe:0',
        '-vf',
        `select=eq(n\\,${frames.length - 1})`,
        '-frames:v',
        '1',
        '-f',
        'image2pipe',
        '-c:v',
        'mjpeg',
        '-q:v',
        '3',
        'pipe:1',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
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
    // Parameter sets first: a keyframe access unit does not always carry them (they may arrive as
    // their own buffer), and without them the decoder has nothing to start from.
    const params = hub.parameters(stream);
    for (const ps of [params?.vps, params?.sps, params?.pps]) if (ps) ff.stdin.write(Buffer.concat([START_CODE, ps]));
    for (const f of frames) ff.stdin.write(f.data);
    ff.stdin.end();
  });
}

/** Asks the encoder for a keyframe and waits for it (undefined when none comes in time). */
async function freshKeyframe(hub: StreamHub, stream: string): Promise<EncodedFrame | undefined> {
  hub.requestKeyframe(stream);
  const deadline = Date.now() + KEYFRAME_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      const f = await hub.nextFrame(stream, Math.max(1, deadline - Date.now()));
      if (f.keyframe) return f;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** How old a snapshot may be and still be served without a refresh. */
export const SNAPSHOT_MAX_AGE_MS = 1000;

/**
 * Snapshots per stream for pollers (NVR thumbnails, ONVIF snapshot URIs): one decode in flight at a
 * time, shared by everyone who asks meanwhile. A picture younger than `maxAgeMs` is served as is; one
 * up to three times that old is served at once while a refresh runs in the background, so a steady
 * poller never waits for ffmpeg; an older one (or none) waits for a fresh decode. Many clients cost
 * about one decode per `maxAgeMs` (measured in bench/snapshot.ts). A picture is reused only while the
 * stream's parameters (codec, size, parameter sets) are the ones it was decoded with, so a rebuilt
 * pipeline (new codec, size, profile) is never answered with the old picture.
 */
export class Snapshots {
  /** `at` is when the decode started: the picture is of that moment. */
  private readonly latest = new Map<string, { at: number; jpeg: Buffer; params?: CodecParameters }>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  decodes = 0;

  constructor(
    private readonly hub: StreamHub,
    private readonly maxAgeMs = SNAPSHOT_MAX_AGE_MS,
  ) {}

  get(stream: string): Promise<Buffer> {
    const cached = this.latest.get(stream);
    if (cached && sameParameters(cached.params, this.hub.parameters(stream))) {
      const age = performance.now() - cached.at;
      if (age < this.maxAgeMs) return Promise.resolve(cached.jpeg);
      if (age < 3 * this.maxAgeMs) {
        this.decode(stream).catch(() => undefined); // a failed refresh shows in the next waiting request
        return Promise.resolve(cached.jpeg);
      }
    }
    return this.decode(stream);
  }

  private decode(stream: string): Promise<Buffer> {
    let p = this.pending.get(stream);
    if (!p) {
      this.decodes++;
      const at = performance.now();
      const params = this.hub.parameters(stream);
      p = snapshotJpeg(this.hub, stream)
        .then((jpeg) => {
          this.latest.set(stream, { at, jpeg, params });
          return jpeg;
        })
        .finally(() => this.pending.delete(stream));
      this.pending.set(stream, p);
    }
    return p;
  }
}
