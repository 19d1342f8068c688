/** Messages between the daemon and a pipeline worker process (over the fork IPC channel). */
import type { ElementInfo } from '../registry.js';

export type PropertyValue = string | number | boolean;

export type ToWorker =
  | { type: 'start'; launch: string; modules: Array<{ module: string; options?: unknown }>; settings: unknown }
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

/** What a fragment's `workerModules` receive in `attach(ctx)`, inside the worker process. */
export interface WorkerAttachContext {
  /** node-gtk. */
  readonly gi: unknown;
  /** The Gst namespace from node-gtk. */
  readonly Gst: any;
  /**
   * The parsed pipeline (GstPipeline), not yet PLAYING. Signal handlers connected here run on
   * GStreamer's streaming threads and are marshalled into this process's JS thread by node-gtk, which
   * blocks the streaming thread meanwhile: keep them short. `cairo` is loaded, so a `cairooverlay`
   * `draw` handler receives a usable cairo context.
   */
  readonly pipeline: any;
  /** The stream's settings (StreamSettings). */
  readonly settings: unknown;
  /** The options the fragment gave with this module. */
  readonly options: unknown;
  /** Logged by the daemon at info level, tagged with the stream and the module. */
  log(message: string): void;
}
