/**
 * Pure rules for performance tuning (bitrate, latency buffer) and monitoring (stream health), as tested functions.
 */

/** Bitrate for a resolution and frame rate: a table at 30 fps (2160p 12, 1080p 8, 720p 4, 480p 2 Mbit/s) scaled by fps/30 with integer division (25 fps → 0); other sizes 4 Mbit/s. */
export function calculateOptimalBitrate(resolution: string, fps: number): number {
  const factor = Math.trunc(fps / 30);
  switch (resolution) {
    case '3840x2160':
      return 12_000_000 * factor;
    case '1920x1080':
      return 8_000_000 * factor;
    case '1280x720':
      return 4_000_000 * factor;
    case '640x480':
      return 2_000_000 * factor;
    default:
      return 4_000_000;
  }
}

export type LatencyMode = 'low' | 'normal' | 'high';

/** Buffer target for `streamLatencyMode`: low 100 ms, normal 500 ms, high 2000 ms, anything else 500 ms. */
export function getLatencyMs(mode: string): number {
  switch (mode) {
    case 'low':
      return 100;
    case 'normal':
      return 500;
    case 'high':
      return 2000;
    default:
      return 500;
  }
}

export interface HealthInput {
  frameDrops: number;
  errors: number;
  currentBitrate: number;
  clientCount: number;
}

export interface HealthVerdict {
  healthy: boolean;
  reasons: string[];
}

/** Stream health: more than 100 frame drops, more than 10 errors, or a stall with clients. */
export function checkStreamHealth(stats: HealthInput): HealthVerdict {
  const reasons: string[] = [];
  if (stats.frameDrops > 100) reasons.push(`high frame drop rate (${stats.frameDrops} drops)`);
  if (stats.errors > 10) reasons.push(`stream errors (${stats.errors})`);
  if (stats.currentBitrate === 0 && stats.clientCount > 0) reasons.push('stream stalled: no bitrate while clients are connected');
  return { healthy: reasons.length === 0, reasons };
}
