/**
 * HTTP requests and video share the daemon's one event loop: frames from the media process are read,
 * packetised and written to every RTSP/WebRTC client on it. A burst of API requests (a room of
 * dashboards, an NVR polling stats) would otherwise be handled in one go — a thousand requests hold
 * the loop for ~100 ms, and every frame waiting behind them arrives that much later.
 *
 * The pacer hands requests to the router a few at a time: at most `perTurn` requests, or `budgetMs`
 * of synchronous work, per turn of the loop; the rest wait for the next turn (`setImmediate`), so the
 * media socket is read between slices. Requests keep their order. An idle daemon adds one
 * `setImmediate` hop (microseconds) to a request.
 */
export interface PacerOptions {
  /** Requests started per turn of the event loop. */
  perTurn?: number;
  /** Synchronous time (ms) after which the rest of a turn's requests wait for the next turn. */
  budgetMs?: number;
  /** The clock (ms); tests inject one. */
  now?: () => number;
  /** Defers to the next turn of the loop; tests inject one. */
  defer?: (fn: () => void) => void;
}

export class RequestPacer {
  private readonly queue: (() => void)[] = [];
  private head = 0;
  private scheduled = false;
  private readonly perTurn: number;
  private readonly budgetMs: number;
  private readonly now: () => number;
  private readonly defer: (fn: () => void) => void;

  constructor(opts: PacerOptions = {}) {
    this.perTurn = opts.perTurn ?? 8;
    this.budgetMs = opts.budgetMs ?? 2;
    this.now = opts.now ?? (() => performance.now());
    this.defer = opts.defer ?? ((fn) => void setImmediate(fn));
  }

  /** Runs `job` in this turn's slice, or in a later one. */
  run(job: () => void): void {
    this.queue.push(job);
    this.schedule();
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(() => this.drain());
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
      this.schedule();
    }
  }
}
