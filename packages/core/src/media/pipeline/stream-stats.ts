import type { ConsumerStats } from '../hub.js';
import type { EncoderStats } from './live-control.js';

/** Sliding-window figures of what the encoder actually produced. */
export class ProductionMeter {
  private readonly samples: Array<{ at: number; bytes: number; key: boolean }> = [];
  private lastKeyAt?: number;
  private keyInterval?: number;

  constructor(private readonly windowMs = 2000) {}

  add(at: number, bytes: number, keyframe: boolean): void {
    this.samples.push({ at, bytes, key: keyframe });
    if (keyframe) {
      if (this.lastKeyAt !== undefined) this.keyInterval = (at - this.lastKeyAt) / 1000;
      this.lastKeyAt = at;
    }
    this.trim(at);
  }

  /** bit/s over the window (0 when nothing was produced recently). */
  bitrate(now: number): number {
    this.trim(now);
    if (this.samples.length === 0) return 0;
    const bytes = this.samples.reduce((a, s) => a + s.bytes, 0);
    return Math.round((bytes * 8 * 1000) / this.windowMs);
  }

  fps(now: number): number {
    this.trim(now);
    return Math.round((this.samples.length * 1000 * 10) / this.windowMs) / 10;
  }

  /** Seconds between the last two keyframes. */
  keyframeInterval(): number | undefined {
    return this.keyInterval;
  }

  reset(): void {
    this.samples.length = 0;
    this.lastKeyAt = undefined;
  }

  private trim(now: number): void {
    while (this.samples.length && this.samples[0]!.at < now - this.windowMs) this.samples.shift();
  }
}

/** The documented StreamStats (clientCount, totalBytesStreamed, currentBitrate, frameDrops, errors, uptime) plus what an operator needs to diagnose a stream. */
export interface StreamStats {
  clientCount: number;
  totalBytesStreamed: number;
  currentBitrate: number;
  frameDrops: number;
  errors: number;
  uptime: number;
  fps: number;
  keyframeInterval: number | null;
  running: boolean;
  /** `starting`, `playing`, `stalled`, `restarting` (waiting out its backoff) or `stopped`. */
  state: string;
  restarts: number;
  lastError: string | null;
  width: number;
  height: number;
  targetBitrate: number;
  /** What the stream's frames are encoded in now: the running pipeline's codec (the configured one while none runs). */
  codec: string;
  /** The element that encodes (or the camera, passthrough), hardware or not, and why it was chosen. */
  encoder?: EncoderStats;
  /** How the source is read: `raw`, `jpeg-decode`, `passthrough` or `decode`. */
  sourcePath?: string;
  source?: { path: string; why: string };
  consumers: ConsumerStats[];
}
