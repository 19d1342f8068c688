import { randomUUID } from 'node:crypto';
import type { StreamCatalog } from '@camd/core';

/**
 * ONVIF events (Core §9, the PullPoint interface): a video source that stops delivering pictures
 * raises `tns1:VideoSource/SignalLoss` (a property: State true), and clears it when pictures flow
 * again, so an NVR can show and record "video loss". Subscribers pull with a long poll.
 */
export const SIGNAL_LOSS_TOPIC = 'tns1:VideoSource/SignalLoss';
/** How often stream health is sampled; a loss is reported within this time plus the stall window. */
export const EVENT_POLL_MS = 500;
const MAX_QUEUE = 100;
/** PullMessages waits at most this long (ONVIF clients ask for PT1M). */
export const MAX_PULL_TIMEOUT_MS = 60_000;
export const DEFAULT_TERMINATION_MS = 60_000;
export const MAX_TERMINATION_MS = 3_600_000;

export interface Notification {
  topic: string;
  utc: Date;
  operation: 'Initialized' | 'Changed';
  source: Record<string, string>;
  data: Record<string, string>;
}

interface PullPoint {
  id: string;
  owner: string;
  expiresAt: number;
  queue: Notification[];
  wake?: () => void;
}

export class EventBroker {
  private readonly lost = new Map<string, boolean>();
  private readonly points = new Map<string, PullPoint>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly streams: Pick<StreamCatalog, 'list' | 'stats'>,
    readonly maxPullPoints = 16,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), EVENT_POLL_MS);
    this.timer.unref();
  }

  /** Ends every pending pull (the daemon is stopping) and forgets every subscription. */
  stop(): void {
    clearInterval(this.timer);
    for (const p of this.points.values()) p.wake?.();
    this.points.clear();
  }

  create(owner: string, terminationMs: number): PullPoint | undefined {
    this.expire();
    if (this.points.size >= this.maxPullPoints) return undefined;
    const p: PullPoint = { id: randomUUID(), owner, expiresAt: Date.now() + terminationMs, queue: this.initialized() };
    this.points.set(p.id, p);
    return p;
  }

  get(id: string): PullPoint | undefined {
    this.expire();
    return this.points.get(id);
  }

  renew(p: PullPoint, terminationMs: number): void {
    p.expiresAt = Date.now() + terminationMs;
  }

  unsubscribe(p: PullPoint): void {
    p.wake?.();
    this.points.delete(p.id);
  }

  /** Current property states again (SetSynchronizationPoint). */
  synchronize(p: PullPoint): void {
    this.enqueue(p, this.initialized());
  }

  /** Waits up to `timeoutMs` for messages; returns at most `limit` of them. */
  async pull(p: PullPoint, timeoutMs: number, limit: number): Promise<Notification[]> {
    if (p.queue.length === 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          p.wake = undefined;
          resolve();
        }
        p.wake?.(); // a second pull on the same point ends the first one
        p.wake = done;
      });
    }
    return p.queue.splice(0, Math.max(1, limit));
  }

  private sample(): void {
    for (const s of this.streams.list()) {
      const lost = this.streams.stats(s.name)?.running !== true;
      const before = this.lost.get(s.name);
      this.lost.set(s.name, lost);
      if (before !== undefined && before !== lost) {
        for (const p of this.points.values()) this.enqueue(p, [signalLoss(s.name, lost, 'Changed')]);
      }
    }
  }

  private initialized(): Notification[] {
    return [...this.lost].map(([stream, lost]) => signalLoss(stream, lost, 'Initialized'));
  }

  private enqueue(p: PullPoint, messages: Notification[]): void {
    p.queue.push(...messages);
    // A subscriber that stopped pulling keeps only the newest messages.
    if (p.queue.length > MAX_QUEUE) p.queue.splice(0, p.queue.length - MAX_QUEUE);
    p.wake?.();
  }

  private expire(): void {
    const now = Date.now();
    for (const p of this.points.values()) if (p.expiresAt <= now) this.unsubscribe(p);
  }
}

function signalLoss(stream: string, lost: boolean, operation: Notification['operation']): Notification {
  return { topic: SIGNAL_LOSS_TOPIC, utc: new Date(), operation, source: { Source: `vs_${stream}` }, data: { State: String(lost) } };
}

/**
 * An xs:duration (PT60S, PT1M, PT0.5S, P1DT2H) in ms, or an absolute xs:dateTime as the time from
 * now; undefined when it is neither.
 */
export function parseTermination(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const d = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value.trim());
  if (d && value.trim() !== 'P' && value.trim() !== 'PT') {
    const [, days = '0', h = '0', m = '0', sec = '0'] = d;
    return ((Number(days) * 24 + Number(h)) * 60 + Number(m)) * 60_000 + Number(sec) * 1000;
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at - now;
}
