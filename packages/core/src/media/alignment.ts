import type { Logger } from 'pino';
import type { HealthCheck } from '../hooks.js';
import type { StateStore } from '../state/store.js';
import type { StreamAlignment } from '../state/keys.js';
import type { Consumer, StreamHub } from './hub.js';

const WINDOW = 90;
const REPORT_EVERY_MS = 1000;

export interface StreamAlignmentStats {
  /** Median time from capture to arrival in the daemon, ms. */
  latencyMs: number | null;
  /**
   * Capture-time skew of this stream's camera against the primary's, ms (positive: its timestamps run
   * ahead). Streams of one capture are one camera: their skew is the camera's, 0 for the primary's.
   */
  skewMs: number | null;
  /** Delivery delay applied by software alignment, ms. */
  delayMs: number;
}

/** A stream, and the camera (capture) its frames come from. */
export interface AlignedStream {
  name: string;
  camera: string;
}

/**
 * Multi-camera alignment by capture timestamp (the `streamAlignment` setting). Every stream's frames
 * carry wall-clock capture times from one realtime clock; comparing them with arrival times gives each
 * camera's latency, and the difference between cameras is their skew. A camera is a capture: streams
 * that share one (every stream of a camera device) have the same capture times, so their differing
 * encode times are latency, never skew, and cannot make health fail on a single-camera device.
 * `timestamp` measures and reports; `software` also delays the earlier streams' delivery so paired
 * frames reach consumers together; `hardware` needs a sync line this device does not have and is reported unavailable.
 */
export class AlignmentMonitor {
  private readonly samples = new Map<string, number[]>();
  private readonly consumers: Consumer[] = [];
  private readonly problems = new Map<string, string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly hub: StreamHub,
    private readonly state: StateStore,
    private readonly streams: () => AlignedStream[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    for (const { name: s } of this.streams()) {
      this.samples.set(s, []);
      this.consumers.push(
        this.hub.subscribe(s, {
          name: 'alignment monitor',
          internal: true,
          maxQueue: 1_000_000,
          onFrame: (f) => {
            const w = this.samples.get(s)!;
            // Arrival in the daemon, on the wall clock, against the capture time on the same clock.
            w.push(Date.now() - (performance.now() - f.receivedAt) - f.captureTimeMs);
            if (w.length > WINDOW) w.shift();
          },
        }),
      );
    }
    this.timer = setInterval(() => this.evaluate(), REPORT_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const c of this.consumers.splice(0)) c.close();
    for (const s of this.streams()) this.hub.setDeliveryDelay(s.name, 0);
  }

  private config(): StreamAlignment {
    return this.state.get<StreamAlignment>('streamAlignment');
  }

  stats(): Record<string, StreamAlignmentStats> {
    const streams = this.streams();
    const lat = new Map(streams.map(({ name }) => [name, median(this.samples.get(name) ?? [])]));
    // A camera's latency is that of its first stream; the primary camera is the first stream's.
    const cameraLatency = new Map<string, number | undefined>();
    for (const { name, camera } of streams) if (!cameraLatency.has(camera)) cameraLatency.set(camera, lat.get(name));
    const ref = streams[0] && cameraLatency.get(streams[0].camera);
    return Object.fromEntries(
      streams.map(({ name, camera }) => {
        const c = cameraLatency.get(camera);
        const skew = c === undefined || ref === undefined ? undefined : ref - c;
        return [name, { latencyMs: round(lat.get(name)), skewMs: round(skew), delayMs: this.hub.deliveryDelay(name) }];
      }),
    );
  }

  health(): HealthCheck[] {
    const c = this.config();
    if (!c.enabled || this.streams().length === 0) return [];
    if (c.method === 'hardware')
      return [{ name: 'alignment', healthy: true, detail: 'hardware sync is not available on this device; timestamps are still measured' }];
    const problems = [...this.problems.values()];
    return [{ name: 'alignment', healthy: problems.length === 0, detail: problems.join('; ') || undefined }];
  }

  private evaluate(): void {
    const c = this.config();
    const stats = this.stats();
    const now = new Map<string, string>();
    if (c.enabled) {
      for (const [name, s] of Object.entries(stats)) {
        if (s.latencyMs !== null && s.latencyMs > c.maxLatencyMs)
          now.set(`latency:${name}`, `${name}: capture-to-daemon latency ${s.latencyMs} ms > ${c.maxLatencyMs} ms`);
        if (s.skewMs !== null && Math.abs(s.skewMs) > c.syncTolerance)
          now.set(`skew:${name}`, `${name}: skew ${s.skewMs} ms against the primary camera > ${c.syncTolerance} ms`);
      }
    }
    // Log transitions only, not every second.
    for (const [k, msg] of now) if (!this.problems.has(k)) this.logger.warn({ alignment: c.method }, `alignment: ${msg}`);
    for (const k of this.problems.keys()) if (!now.has(k)) this.logger.info(`alignment: ${k} back within limits`);
    this.problems.clear();
    for (const [k, v] of now) this.problems.set(k, v);
    this.applySoftwareAlignment(c, stats);
  }

  /** Delays every stream by how much earlier its frames arrive than the latest camera's. */
  private applySoftwareAlignment(c: StreamAlignment, stats: Record<string, StreamAlignmentStats>): void {
    const active = c.enabled && c.method === 'software';
    const lat = Object.entries(stats).filter(([, s]) => s.latencyMs !== null) as Array<[string, StreamAlignmentStats & { latencyMs: number }]>;
    const worst = Math.max(...lat.map(([, s]) => s.latencyMs), 0);
    for (const [name] of Object.entries(stats)) {
      const l = stats[name]!.latencyMs;
      const target = active && l !== null ? Math.min(c.maxLatencyMs * 10, worst - l) : 0;
      // Move in small steps so the delivery rhythm stays smooth.
      const current = this.hub.deliveryDelay(name);
      if (Math.abs(target - current) > 2) this.hub.setDeliveryDelay(name, current + Math.sign(target - current) * Math.min(Math.abs(target - current), 20));
    }
  }
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function round(x: number | undefined): number | null {
  return x === undefined ? null : Math.round(x);
}
