/**
 * Bitrate policies. A policy is a pure function of what the receivers reported and of the clock it is
 * given: no timers, no I/O, so it can be tested over recorded feedback sequences.
 */

export interface AbrBounds {
  /** Floor: no decision goes below it, whatever one client reports. */
  min: number;
  /** Cap (`abrMaxBitrate`, default 12 Mbit/s, the documented cap). */
  max: number;
  /** What the operator configured: without bandwidth evidence, recovery climbs back to this, not beyond. */
  nominal: number;
}

export interface AbrInput {
  stream: string;
  /** Current encoder target, bit/s. */
  current: number;
  /** Loss governing the stream (worst credible client), 0..1, over the last reports. */
  loss: number;
  /** Lowest bandwidth estimate any client gave (REMB/transport-cc), bit/s. */
  availableBandwidth?: number;
  now: number;
  /** When the bitrate last changed (any direction). */
  lastChangeAt: number;
  /** Since when the loss has stayed under the clean threshold (undefined: it is not clean now). */
  cleanSince?: number;
  bounds: AbrBounds;
  timing: AbrTiming;
}

export interface AbrTiming {
  /** Minimum time between two decreases. */
  decreaseIntervalMs: number;
  /** Minimum time between a change and an increase (hysteresis: climbing is slower than backing off). */
  increaseIntervalMs: number;
  /** Loss must stay below CLEAN_LOSS this long before recovery starts. */
  recoverAfterMs: number;
}

export interface AbrDecision {
  target: number;
  reason: string;
}

export const LOSS_THRESHOLD = 0.05;
export const CLEAN_LOSS = 0.01;
/** Changes smaller than this share of the current bitrate are not worth a change. */
const MIN_STEP = 0.03;

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}

/**
 * The documented ABR rule, made safe to run in a loop: loss > 5 % → ×0.8; available bandwidth > 1.5 × current
 * → ×1.2 (capped at 12 Mbit/s); plus a floor, a minimum interval between changes, slower increases
 * than decreases, and recovery towards the configured bitrate after a clean period when receivers give
 * no bandwidth estimate (RTSP receivers only report loss).
 */
export function seedPolicy(i: AbrInput): AbrDecision | undefined {
  const since = i.now - i.lastChangeAt;
  if (i.loss > LOSS_THRESHOLD) {
    if (since < i.timing.decreaseIntervalMs) return undefined;
    const target = clamp(Math.round(i.current * 0.8), i.bounds.min, i.bounds.max);
    return significant(i.current, target) ? { target, reason: `loss ${(i.loss * 100).toFixed(1)}% > 5%: ×0.8` } : undefined;
  }
  if (since < i.timing.increaseIntervalMs) return undefined;
  if (i.availableBandwidth !== undefined && i.availableBandwidth > 1.5 * i.current) {
    const target = clamp(Math.round(i.current * 1.2), i.bounds.min, i.bounds.max);
    return significant(i.current, target) ? { target, reason: `available ${Math.round(i.availableBandwidth / 1000)} kbit/s > 1.5 × current: ×1.2` } : undefined;
  }
  if (i.availableBandwidth === undefined && i.cleanSince !== undefined && i.now - i.cleanSince >= i.timing.recoverAfterMs && i.current < i.bounds.nominal) {
    const target = clamp(Math.round(i.current * 1.2), i.bounds.min, Math.min(i.bounds.nominal, i.bounds.max));
    return significant(i.current, target)
      ? { target, reason: `no loss for ${Math.round((i.now - i.cleanSince) / 1000)} s: ×1.2 towards ${Math.round(i.bounds.nominal / 1000)} kbit/s` }
      : undefined;
  }
  return undefined;
}

function significant(current: number, target: number): boolean {
  return Math.abs(target - current) >= current * MIN_STEP;
}

export interface ClientReport {
  loss: number;
  availableBandwidth?: number;
  at: number;
}

/**
 * The worst credible client governs the shared encoder. A client whose loss is far beyond everyone
 * else's (> 30 % while the median is under 5 %) has a broken path of its own: lowering the encoder for
 * everybody would not help it, so it is left out (and the floor bounds the damage in any case).
 */
export function aggregate(reports: ClientReport[]): { loss: number; availableBandwidth?: number; ignored: number } {
  if (reports.length === 0) return { loss: 0, ignored: 0 };
  const losses = reports.map((r) => r.loss).sort((a, b) => a - b);
  const median = losses[Math.floor((losses.length - 1) / 2)]!;
  const credible = reports.length >= 2 && median < LOSS_THRESHOLD ? reports.filter((r) => r.loss <= 0.3) : reports;
  const bws = credible.map((r) => r.availableBandwidth).filter((b): b is number => b !== undefined);
  return {
    loss: Math.max(0, ...credible.map((r) => r.loss)),
    availableBandwidth: bws.length ? Math.min(...bws) : undefined,
    ignored: reports.length - credible.length,
  };
}
