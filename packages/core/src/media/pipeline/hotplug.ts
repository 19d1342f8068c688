import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DeviceDirectory } from './device-directory.js';
import type { ProbedDevice } from './devices.js';

/** How often the streams' camera nodes are looked at (one stat() each: nothing on a board's CPU). */
const POLL_MS = 500;

/**
 * Watches the camera nodes the streams name (`/dev/video0`, a `/dev/v4l/by-id/…` link): when one goes
 * away or comes back, the device probe (GstDeviceMonitor) reads the cameras again and `onChange` is
 * told, one change at a time. Polling the node is what works the same for every driver and for links
 * whose folder udev removes with the last camera; inotify on /dev would not see those.
 */
export class HotplugWatch {
  /** Per node: whether it was there at the last look, and when it went. */
  private readonly nodes = new Map<string, { present: boolean; since: number }>();
  private timer?: NodeJS.Timeout;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: {
      devices: DeviceDirectory;
      paths: readonly string[];
      logger: Logger;
      onChange: (path: string, present: boolean, device: ProbedDevice | undefined) => Promise<void>;
    },
  ) {
    for (const p of new Set(deps.paths)) this.nodes.set(p, { present: existsSync(p), since: Date.now() });
  }

  start(): void {
    this.timer = setInterval(() => this.look(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** When a watched node went away, or undefined while it is there. */
  absentSince(path: string): number | undefined {
    const n = this.nodes.get(path);
    return n && !n.present ? n.since : undefined;
  }

  private look(): void {
    for (const [path, n] of this.nodes) {
      const present = existsSync(path);
      if (present === n.present) continue;
      n.present = present;
      n.since = Date.now();
      this.deps.logger.info({ device: path }, present ? `camera ${path} plugged in; probing it` : `camera ${path} unplugged`);
      // One change at a time, in order: a quick unplug-replug is two changes.
      this.queue = this.queue.then(() => this.changed(path, present));
    }
  }

  private async changed(path: string, present: boolean): Promise<void> {
    try {
      const device = await this.deps.devices.settle(path, present);
      // It may have changed again while the probe ran: the later change follows in the queue.
      if (this.nodes.get(path)!.present !== present) return;
      await this.deps.onChange(path, present, device);
    } catch (err) {
      this.deps.logger.error({ err, device: path }, 'handling a camera that came or went failed');
    }
  }
}
