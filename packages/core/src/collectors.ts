import type { CamdHooks, HealthCheck, StatsReport } from './hooks.js';

/**
 * The collector hooks (`collectStats`, `collectHealth`) are isolated per tap: a tap that throws is
 * left out (the value passes on as it got it), logged once with plugin and hook (see
 * hooks-instrument.ts), and the answer names it, so one plugin's bug cannot turn `GET /api/stats` or
 * `GET /api/health` into a 500 for everyone.
 */
export const COLLECTOR_HOOKS: ReadonlySet<string> = new Set<keyof CamdHooks>(['collectStats', 'collectHealth']);

export interface CollectorFailure {
  /** The tap's name: the plugin's. */
  readonly plugin: string;
  readonly hook: string;
  readonly message: string;
}

/** The failures of the collector call in progress (the hooks are synchronous: one call at a time). */
let current: CollectorFailure[] | undefined;

/** Called by an instrumented collector tap that threw. */
export function recordCollectorFailure(failure: CollectorFailure): void {
  current?.push(failure);
}

function collect<T>(call: () => T): { value: T; failures: CollectorFailure[] } {
  const outer = current;
  const failures: CollectorFailure[] = [];
  current = failures;
  try {
    return { value: call(), failures };
  } finally {
    current = outer;
  }
}

/**
 * `GET /api/stats`: `collectStats` over the per-stream report. A plugin whose tap throws appears
 * under a top-level `errors: { "<plugin>": "<message>" }`, added after every tap ran (taps iterate
 * the report's keys as stream names).
 */
export function gatherStats(hooks: CamdHooks, report: StatsReport): StatsReport {
  const { value, failures } = collect(() => hooks.collectStats.call(report));
  if (failures.length === 0) return value;
  const errors: Record<string, string> = {};
  for (const f of failures) errors[f.plugin] = errors[f.plugin] ? `${errors[f.plugin]}; ${f.message}` : f.message;
  return { ...value, errors };
}

/**
 * `GET /api/health`: `collectHealth` over core's checks. A plugin whose tap throws adds a failing
 * check `plugin:<name>` with the message, so the daemon reports unhealthy, naming it.
 */
export function gatherHealth(hooks: CamdHooks, checks: HealthCheck[]): HealthCheck[] {
  const { value, failures } = collect(() => hooks.collectHealth.call(checks));
  return [...value, ...failures.map((f) => ({ name: `plugin:${f.plugin}`, healthy: false, detail: `${f.hook} failed: ${f.message}` }))];
}
