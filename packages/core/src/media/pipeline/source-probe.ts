import { existsSync } from 'node:fs';
import { modesFromCaps, testSourceCapabilities, type SourceCapabilities } from '../source-caps.js';
import type { StreamSettings } from '../types.js';
import { querySourceCaps } from './element-registry.js';
import { quote } from './launch.js';

/**
 * Core's answer to `describeSource`: camd's maximum for a test pattern; for a v4l2 device, the caps
 * GStreamer reads from it (v4l2src in READY). A device that is absent or cannot be read bounds
 * nothing (its stream fails to start and says why); a probe that watches devices (GstDeviceMonitor)
 * answers the hook before this.
 */
export async function defaultSourceCapabilities(stream: StreamSettings): Promise<SourceCapabilities> {
  const src = stream.source;
  if (src.kind === 'test') return testSourceCapabilities(src.pattern);
  if (!existsSync(src.device)) return { describe: src.device, origin: 'absent at start', modes: [] };
  try {
    const caps = await querySourceCaps(`v4l2src device=${quote(src.device)}`);
    return { describe: src.device, origin: "the device's caps", modes: modesFromCaps(caps) };
  } catch (err) {
    return { describe: src.device, origin: `its caps could not be read: ${(err as Error).message}`, modes: [] };
  }
}
