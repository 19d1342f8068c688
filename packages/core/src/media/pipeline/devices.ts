import { execFile } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { modesFromCaps, type SourceCapabilities, type SourceMode } from '../source-caps.js';
import type { RawDevice } from './protocol.js';
import { quote } from './quote.js';

/** A camera as the device probe (GstDeviceMonitor) found it: `GET /api/devices`, `camd probe`. */
export interface ProbedDevice {
  /** The provider's name for it (`HD Pro Webcam C920`). */
  readonly name: string;
  readonly deviceClass: string;
  /** Its node (`/dev/video0`), when the provider names one: what a stream's `source` refers to. */
  readonly path?: string;
  /** Which provider's API (`v4l2`, `libcamera`, `pipewire`). */
  readonly api?: string;
  /** Its source element and the launch text that opens this camera (`v4l2src device=/dev/video0`). */
  readonly factory?: string;
  readonly launch?: string;
  /** What it delivers, as GStreamer caps, and as modes (format, size, highest rate). */
  readonly caps: string;
  readonly modes: readonly SourceMode[];
  /** Its V4L2 controls (`video_bitrate`, …); undefined when they cannot be read. */
  readonly controls?: readonly string[];
  /** Why it cannot be used, when its source element could not be made. */
  readonly error?: string;
}

/** The provider's node for a device: v4l2's `device.path`, PipeWire's `api.v4l2.path`, or the element's `device`. */
function pathOf(raw: RawDevice): string | undefined {
  return raw.properties['device.path'] ?? raw.properties['api.v4l2.path'] ?? raw.elementProps?.device;
}

/** A probed device from what the media process read; `controls` as read (see `readV4l2Controls`). */
export function probedDevice(raw: RawDevice, controls?: readonly string[]): ProbedDevice {
  const props = Object.entries(raw.elementProps ?? {}).map(([k, v]) => `${k}=${quote(v)}`);
  return {
    name: raw.name,
    deviceClass: raw.deviceClass,
    path: pathOf(raw),
    api: raw.properties['device.api'],
    factory: raw.factory,
    launch: raw.factory ? [raw.factory, ...props].join(' ') : undefined,
    caps: raw.caps,
    modes: modesFromCaps(raw.caps),
    controls,
    error: raw.error,
  };
}

/**
 * The same camera may be announced by several providers (v4l2 and PipeWire): one entry per node,
 * the v4l2 provider's first (camd opens the node itself), in the providers' order otherwise.
 */
export function uniqueDevices(devices: readonly ProbedDevice[]): ProbedDevice[] {
  const byPath = new Map<string, ProbedDevice>();
  const out: ProbedDevice[] = [];
  for (const d of devices) {
    if (!d.path) {
      out.push(d);
      continue;
    }
    const key = canonical(d.path);
    const had = byPath.get(key);
    if (!had || (had.api !== 'v4l2' && d.api === 'v4l2')) byPath.set(key, d);
  }
  return [...out, ...byPath.values()];
}

/** A path with symlinks resolved (`/dev/v4l/by-id/usb-…-video-index0` is `/dev/video0`), or itself when absent. */
export function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The probed device a stream's `source` names: by node (symlinks resolved), else by its name. */
export function findDevice(devices: readonly ProbedDevice[], source: string): ProbedDevice | undefined {
  const want = canonical(source);
  return devices.find((d) => d.path !== undefined && canonical(d.path) === want) ?? devices.find((d) => d.name === source);
}

/** What a probed camera delivers, for the stream's bounds and its source path. */
export function deviceCapabilities(d: ProbedDevice, source: string): SourceCapabilities {
  return { describe: d.path && d.path !== source ? `${source} (${d.name}, ${d.path})` : `${source} (${d.name})`, origin: 'GstDeviceMonitor', modes: d.modes };
}

/**
 * A V4L2 node's control names, read with v4l2-ctl (Debian v4l-utils): GStreamer lists a device's
 * formats but not its controls. Undefined when v4l2-ctl is missing or the node does not answer.
 */
export function readV4l2Controls(path: string, timeoutMs = 3000): Promise<string[] | undefined> {
  try {
    if (!statSync(path).isCharacterDevice()) return Promise.resolve(undefined);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    execFile('v4l2-ctl', ['-d', path, '--list-ctrls'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve(undefined);
      // `                  video_bitrate 0x009909cf (int)    : min=25000 max=25000000 …`
      resolve([...stdout.matchAll(/^\s*([a-z0-9_]+) 0x[0-9a-f]{8} \(/gm)].map((m) => m[1]!));
    });
  });
}

/** Controls a provider announces in its device properties (`device.controls`, the test stand-in does), else a V4L2 node's. */
export async function controlsOf(raw: RawDevice): Promise<string[] | undefined> {
  const listed = raw.properties['device.controls'];
  if (listed !== undefined)
    return listed
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
  const path = pathOf(raw);
  return raw.properties['device.api'] === 'v4l2' && path ? readV4l2Controls(path) : undefined;
}
