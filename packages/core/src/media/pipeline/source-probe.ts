import { existsSync } from 'node:fs';
import { modesFromCaps, testSourceCapabilities, type SourceCapabilities } from '../source-caps.js';
import type { StreamSettings } from '../types.js';
import { querySourceCaps } from './element-registry.js';
import { quote } from './quote.js';
import type { DeviceDirectory } from './device-directory.js';
import { deviceCapabilities } from './devices.js';

/**
 * Core's answer to `describeSource`: camd's maximum for a test pattern; for a device, what the device
 * probe (GstDeviceMonitor) saw, or, for a device it did not list, the caps GStreamer reads from it
 * (v4l2src in READY). A device that is absent or cannot be read bounds nothing (its stream fails to
 * start and says why, and is bounded when it appears: hotplug.ts).
 */
export async function defaultSourceCapabilities(stream: StreamSettings, devices?: DeviceDirectory): Promise<SourceCapabilities> {
  const src = stream.source;
  if (src.kind === 'test') return testSourceCapabilities(src.pattern);
  const probed = devices?.find(src.device);
  if (probed) return deviceCapabilities(probed, src.device);
  if (!existsSync(src.device)) return { describe: src.device, origin: 'absent', modes: [] };
  try {
    const caps = await querySourceCaps(`v4l2src device=${quote(src.device)}`);
    return { describe: src.device, origin: "the device's caps", modes: modesFromCaps(caps) };
  } catch (err) {
    return { describe: src.device, origin: `its caps could not be read: ${(err as Error).message}`, modes: [] };
  }
}
