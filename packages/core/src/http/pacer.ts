import { performance } from 'node:perf_hooks';

/**
 * HTTP requests and video share the daemon's one event loop: frames from the media process are read,
 * packetised and written to every RTSP/WebRTC client on it. A burst of API requests (a room of
 * dashboards, an NVR polling stats) would otherwise be handled in one go — a thousand requests hold
 * the loop for ~100 ms, and every frame waiting behind them arrives that much later.
 *
 * The pacer hands requests to the router a few at a time: at most `perTurn` requests, or `budgetMs`
 * of synchronous work, per slice; the rest wait, so the media socket is read between slices.
 * Requests keep their order. While a backlog lasts, the loop is kept busy at most `share` of the
 * time (measured with its utilisation, which counts the parsing and writing around the slices too):
 * on a camera's few cores, HTTP work beyond that is taken from the encoder, so a flood of requests
 * waits longer instead. An idle daemon adds one `setImmediate` hop (microseconds) to a request.
 */
export interface PacerOptions {
  /** Requests started per turn of the event loop. */
  perTurn?: number;
  /** Synchronous time (ms) after which the rest of a turn's requests wait for the next turn. */
  budgetMs?: number;
  /**
   * While a backlog lasts, the event loop's busy fraction (frames and HTTP alike) above which the
   * next slice waits, so that the loop rests down to it.
   */
  share?: number;
  /** Longest wait (ms) between two slices. */
  maxRestMs?: number;
  /** The event loop's busy and idle time so far (ms); tests inject one. */
  loopTime?: () => { active: number; idle: number };
  /** The clock (ms); tests inject one. */
  now?: () => number;
  /** Runs `fn` after `ms` (0: the next turn of the loop); tests inject one. */
  defer?: (fn: () => void, ms: number) => void;
}

export class RequestPacer {
  private readonly queue: (() => void)[] = [];
  private head = 0;
  private scheduled = false;
  private readonly perTurn: number;
  private readonly budgetMs: number;
  private readonly share: number;
  private readonly maxRestMs: number;
  private readonly loopTime: () => { active: number; idle: number };
  private lastLoop: { active: number; idle: number };
  private readonly now: () => number;
  private readonly defer: (fn: () => void, ms: number) => void;

  constructor(opts: PacerOptions = {}) {
    this.perTurn = opts.perTurn ?? 8;
    this.budgetMs = opts.budgetMs ?? 2;
    this.share = opts.share ?? 0.25;
    this.maxRestMs = opts.maxRestMs ?? 20;
    this.loopTime = opts.loopTime ?? (() => performance.eventLoopUtilization());
    this.lastLoop = this.loopTime();
    this.now = opts.now ?? (() => performance.now());
    this.defer = opts.defer ?? ((fn, ms) => void (ms > 0 ? setTimeout(fn, ms) : setImmediate(fn)));
  }

  /** Runs `job` in this turn's slice, or in a later one. */
  run(job: () => void): void {
    this.queue.push(job);
    this.schedule();
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  private schedule(restMs = 0): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(() => this.drain(), restMs);
  }

  private drain(): void {
    this.scheduled = false;
    const t0 = this.now();
    for (let n = 0; n < this.perTurn && this.head < this.queue.length; n++) {
      const job = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as () => void;
      try {
        job();
      } catch {
        // The router answers its own errors; a throw here must not strand the requests queued behind.
      }
      if (this.now() - t0 >= this.budgetMs) break;
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else {
      if (this.head > 1024) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.schedule(this.rest());
    }
  }

  /** How long the next slice waits: enough for the loop's busy fraction since the last look to come down to `share`. */
  private rest(): number {
    const now = this.loopTime();
    const active = now.active - this.lastLoop.active;
    const total = active + now.idle - this.lastLoop.idle;
    this.lastLoop = now;
    if (total <= 0 || active / total <= this.share) return 0;
    return Math.min(this.maxRestMs, active / this.share - total);
  }
}
