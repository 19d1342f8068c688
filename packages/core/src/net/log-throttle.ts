import type { Logger } from 'pino';

/** Keys remembered at most; past it, new keys share one line (an attack from many addresses is one line a minute). */
const MAX_KEYS = 1024;
const OVERFLOW_KEY = '\u0000overflow';

/**
 * Log lines about what peers do (a refused connection, a flood closed) at most once per key (an
 * address and a reason) and interval: an attack must not flood the daemon log. The next line of a
 * key carries `suppressed`, how many were held back since the last one.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many lines of `key` were held back, when a line is due now; undefined while it is held back. */
  due(key: string): number | undefined {
    const t = this.now();
    let k = key;
    if (!this.last.has(k) && this.last.size >= MAX_KEYS) {
      for (const [old, e] of this.last) if (t - e.at >= this.intervalMs) this.last.delete(old);
      if (this.last.size >= MAX_KEYS) k = OVERFLOW_KEY;
    }
    const e = this.last.get(k);
    if (e && t - e.at < this.intervalMs) {
      e.held++;
      return undefined;
    }
    this.last.set(k, { at: t, held: 0 });
    return e?.held ?? 0;
  }

  /** `log[level](fields, msg)` when due for `key`, with `suppressed` when lines were held back. */
  log(log: Logger, level: 'info' | 'warn', key: string, fields: Record<string, unknown>, msg: string): void {
    const held = this.due(key);
    if (held === undefined) return;
    log[level](held > 0 ? { ...fields, suppressed: held } : fields, msg);
  }
}
