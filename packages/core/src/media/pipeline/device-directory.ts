import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { controlsOf, findDevice, probedDevice, uniqueDevices, type ProbedDevice } from './devices.js';
import type { RawDevice } from './protocol.js';

/** A fresh enough probe answers `GET /api/devices` without probing again. */
const FRESH_MS = 5000;

/**
 * The cameras of this machine as GstDeviceMonitor last saw them (devices.ts), probed at start when a
 * stream reads a device, again when one of those devices appears or goes (hotplug.ts), and on demand
 * for `GET /api/devices`. One probe at a time: callers during a probe share its answer.
 */
export class DeviceDirectory {
  private devices: ProbedDevice[] = [];
  private at?: number;
  private running?: Promise<ProbedDevice[]>;

  constructor(
    private readonly probe: () => Promise<RawDevice[]>,
    private readonly logger?: Logger,
  ) {}

  /** Whether a probe has answered yet (before that, nothing is known about any device). */
  get probed(): boolean {
    return this.at !== undefined;
  }

  list(): readonly ProbedDevice[] {
    return this.devices;
  }

  /** The device a stream's source names (its node, symlinks resolved), if the last probe saw it. */
  find(source: string): ProbedDevice | undefined {
    return findDevice(this.devices, source);
  }

  /** Takes a probe's answer (the start-time probe runs together with the encoders' trials). */
  async accept(raw: readonly RawDevice[]): Promise<ProbedDevice[]> {
    const devices = await Promise.all(raw.map(async (r) => probedDevice(r, await controlsOf(r))));
    this.devices = uniqueDevices(devices);
    this.at = Date.now();
    this.logger?.debug({ devices: this.devices.map((d) => `${d.name} ${d.path ?? ''}`) }, 'cameras probed');
    return this.devices;
  }

  /** Probes now (joining a probe under way). */
  refresh(): Promise<ProbedDevice[]> {
    this.running ??= this.probe()
      .then((raw) => this.accept(raw))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** The devices, probed again when the last probe is older than a few seconds. */
  async fresh(): Promise<readonly ProbedDevice[]> {
    if (this.at === undefined || Date.now() - this.at > FRESH_MS) await this.refresh();
    return this.devices;
  }

  /**
   * Probes until `source` is seen (`present`) or not seen: a camera's node appears a moment before
   * its driver answers, and a provider may list a node still being torn down.
   */
  async settle(source: string, present: boolean, tries = 5, gapMs = 400): Promise<ProbedDevice | undefined> {
    for (let i = 0; i < tries; i++) {
      await this.refresh();
      const d = this.find(source);
      if (!!d === present || existsSync(source) !== present) return d;
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return this.find(source);
  }
}
