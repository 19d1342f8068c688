/** Restart delays after a pipeline or capture failure: 1 s, 2 s, 5 s, 10 s, then every 30 s. */
export const BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** A pipeline that has run this long is healthy again: the next failure starts the backoff over. */
export const STABLE_MS = 10_000;
/** Errors older than this no longer count against health: one old incident must not mark a stream unhealthy forever. */
const RECENT_WINDOW_MS = 10 * 60_000;

/** The delay before restart number `attempt` (0-based). */
export function backoffDelay(attempt: number): number {
  return BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
}

/** What a supervisor tells about its subject. */
export interface SupervisionStats {
  errors: number;
  restarts: number;
  lastError: string | null;
}

/**
 * The restart policy of one supervised pipeline (a stream's encoder or a shared capture): failures
 * are counted and restart it after a backoff; a run that lasts `STABLE_MS` resets the backoff.
 * The subject says when it fails (`failed`) and when it runs well (`running`); the supervisor calls
 * `restart` when the backoff is over.
 */
export class RestartSupervisor {
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private active = false;
  private errors = 0;
  private restarts = 0;
  private lastError: string | null = null;
  private readonly recent: number[] = [];

  constructor(
    private readonly restart: () => void,
    private readonly onScheduled: (info: { message: string; retryInMs: number; errors: number }) => void = () => undefined,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Supervision begins (the subject is being started). */
  start(): void {
    this.active = true;
  }

  /** Supervision ends: no restart is pending or will be scheduled. */
  stop(): void {
    this.active = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The subject failed: counted, and restarted after the backoff unless supervision stopped. */
  failed(message: string): void {
    this.errors++;
    this.recent.push(this.clock());
    this.lastError = message;
    if (!this.active) return;
    const retryInMs = backoffDelay(this.attempt++);
    this.onScheduled({ message, retryInMs, errors: this.errors });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.active) return;
      this.restarts++;
      this.restart();
    }, retryInMs);
    this.timer.unref();
  }

  /** The subject has run for `runningMs` without failing: once that reaches `STABLE_MS`, the backoff starts over. */
  running(runningMs: number): void {
    if (runningMs >= STABLE_MS) this.attempt = 0;
  }

  /** A deliberate restart (new settings): the backoff starts over and nothing pending remains. */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.attempt = 0;
  }

  /** Restarts now if a restart is pending (what the subject needed is back); false otherwise. */
  retryNow(): boolean {
    if (!this.active || !this.timer) return false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.restarts++;
    this.restart();
    return true;
  }

  /** A restart is pending (the subject is waiting out its backoff). */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** Failures in the last ten minutes. */
  recentErrors(): number {
    const cutoff = this.clock() - RECENT_WINDOW_MS;
    while (this.recent.length && this.recent[0]! < cutoff) this.recent.shift();
    return this.recent.length;
  }

  /** Overrides the last error (a subject that knows more, e.g. GStreamer's own message). */
  noteError(message: string): void {
    this.lastError = message;
  }

  stats(): SupervisionStats {
    return { errors: this.errors, restarts: this.restarts, lastError: this.lastError };
  }
}
