/** Messages between the daemon and its media process (over the fork IPC channel). */
import type { ElementInfo, ElementTrial } from '../registry.js';
import type { StartProperty } from '../types.js';

export type PropertyValue = string | number | boolean;

/** Name of the `fdsink` whose fd the media process fills in with the pipeline's media connection. */
export const MEDIA_OUT_ELEMENT = 'camd_media_out';

/**
 * First line a pipeline's media connection sends on the daemon's media socket, before the GDP
 * stream: `camd-media <pipeline id>\n`.
 */
export const MEDIA_HEADER_PREFIX = 'camd-media ';

/** The `tee` a shared capture ends in (one media process): the media process adds a branch per reader. */
export const CAPTURE_FANOUT_ELEMENT = 'camd_fanout';

/**
 * A reader of a shared capture begins with `proxysrc name=camd_in_<capture role>_<n>`; the media
 * process links it to a new branch of that capture's `tee` while the reader runs.
 */
export const captureInputName = (role: string, n: number) => `camd_in_${role}_${n}`;
export const CAPTURE_INPUT = /\bname=camd_in_([A-Za-z0-9-]+)_(\d+)\b/g;

/** A video source as GstDeviceMonitor announces it (devices.ts makes a ProbedDevice of it). */
export interface RawDevice {
  readonly name: string;
  readonly deviceClass: string;
  /** What it delivers, as GStreamer caps text. */
  readonly caps: string;
  /** The provider's properties that identify it (`device.path`, `device.api`, …). */
  readonly properties: Readonly<Record<string, string>>;
  /** Factory of the source element `gst_device_create_element` makes (`v4l2src`), and its identifying properties. */
  readonly factory?: string;
  readonly elementProps?: Readonly<Record<string, string>>;
  readonly error?: string;
}

export type ToMediaProcess =
  /**
   * `output`: the pipeline ends in `fdsink name=camd_media_out` and gets its own media connection.
   * `role`: a shared capture's id (`capture1`), by which its readers' `proxysrc` names find it.
   */
  | { type: 'start'; id: string; launch: string; startProperties: readonly StartProperty[]; output: boolean; role?: string }
  | { type: 'stop'; id: string }
  | { type: 'set'; id: string; req: number; element: string; pad?: string; property: string; value: PropertyValue }
  /** Reads a property (diagnostics, tests): the reply carries its value. */
  | { type: 'get'; id: string; req: number; element: string; property: string }
  | { type: 'keyframe'; id: string }
  /** Fails the pipeline as a GStreamer error would (tests, fault drills). */
  | { type: 'fail'; id: string; message: string };

export type FromMediaProcess =
  | { type: 'inspect'; factories: ElementInfo[] }
  /** What a source element produces (its caps in READY), or why it could not be opened. */
  | { type: 'caps'; caps?: string; error?: string }
  /** `media-host probe`: the cameras GstDeviceMonitor sees (when asked), first. */
  | { type: 'devices'; devices: RawDevice[] }
  /** A trial begins (sent before it runs: the daemon's deadline for it starts here), then its result. */
  | { type: 'trying'; factory: string }
  | { type: 'trial'; trial: ElementTrial }
  /** Every trial asked for has run. */
  | { type: 'probe' }
  /** Sent before PLAYING: running time + baseTimeNs = capture time on the realtime clock (ns since the epoch). */
  | { type: 'starting'; id: string; baseTimeNs: string }
  | { type: 'playing'; id: string }
  | { type: 'error'; id: string; message: string; debug?: string; source?: string }
  | { type: 'warning'; id: string; message: string; source?: string }
  /** The pipeline is gone (error, end of stream or stop): `code` 0 after a stop or EOS, 1 after an error. */
  | { type: 'ended'; id: string; code: number }
  | { type: 'reply'; req: number; ok: boolean; error?: string; value?: PropertyValue };
