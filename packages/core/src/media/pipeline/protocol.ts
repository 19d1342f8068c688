/** Messages between the daemon and a pipeline worker process (over the fork IPC channel). */
import type { ElementInfo } from '../registry.js';
import type { StartProperty } from '../types.js';

export type PropertyValue = string | number | boolean;

export type ToWorker =
  | { type: 'start'; launch: string; startProperties: readonly StartProperty[] }
  | { type: 'set'; id: number; element: string; pad?: string; property: string; value: PropertyValue }
  | { type: 'keyframe' }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'inspect'; factories: ElementInfo[] }
  /** Sent before PLAYING: running time + baseTimeNs = capture time on the realtime clock (ns since the epoch). */
  | { type: 'starting'; baseTimeNs: string }
  | { type: 'playing' }
  | { type: 'error'; message: string; debug?: string; source?: string }
  | { type: 'warning'; message: string; source?: string }
  /** A worker module's `ctx.log`. */
  | { type: 'log'; message: string; source: string }
  | { type: 'eos' }
  | { type: 'reply'; id: number; ok: boolean; error?: string };

