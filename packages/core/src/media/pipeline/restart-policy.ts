/** Restart delays after a pipeline or capture failure: 1 s, 2 s, 5 s, 10 s, then every 30 s. */
export const BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];
/** A worker that has run this long is healthy again: the next failure starts the backoff over. */
export const STABLE_MS = 10_000;

/** The delay before restart number `attempt` (0-based). */
export function backoffDelay(attempt: number): number {
  return BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
}
