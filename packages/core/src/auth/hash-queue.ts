import { CoreErrors } from '../errors.js';

export interface HashQueueStats {
  /** Hashes running now (at most `concurrency`). */
  running: number;
  /** Hashes waiting for a slot (at most `maxWaiting`). */
  waiting: number;
  /** Hashes run since the daemon started. */
  done: number;
  /** Checks refused at once because `maxWaiting` already waited (answered 503, nothing hashed). */
  refused: number;
}

/**
 * Runs password hashes a few at a time, with a bounded wait list. A check of a Basic or WS-Security
 * PasswordText password is a 16 MiB scrypt of about 100 ms on libuv's thread pool, whose four threads
 * also serve file and DNS work: a flood of wrong passwords must not hold all four, nor queue without
 * end. A check that finds `maxWaiting` others waiting is refused at once (`CAMD_ERR_AUTH_BUSY`), before
 * any hashing: the caller answers "busy, retry later" (HTTP 503, RTSP 503, a SOAP fault).
 */
export class HashQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private done = 0;
  private refused = 0;

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) this.running++;
    else if (this.waiting.length >= this.maxWaiting) {
      this.refused++;
      throw new CoreErrors.AUTH_BUSY(`too many password checks at once (${this.running} running, ${this.waiting.length} waiting); retry in a second`);
    } else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      this.done++;
      // The slot passes to the next waiter as it is: `running` counts it already.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  stats(): HashQueueStats {
    return { running: this.running, waiting: this.waiting.length, done: this.done, refused: this.refused };
  }
}
