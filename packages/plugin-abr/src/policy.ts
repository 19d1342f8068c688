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
  /** Loss governing the stream (the clients' quantile, see `aggregate`), 0..1, over the last reports. */
  loss: number;
  /** Bandwidth estimate governing the stream (REMB/transport-cc; the same quantile of the clients that give one), bit/s. */
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

/** The default of `abrQuantile`: the median client governs. */
export const DEFAULT_QUANTILE = 0.5;

/**
 * What the shared encoder follows: quantile `q` of its clients' reports, not the worst one. Losses
 * ranked from the best client to the worst, the one at `q` governs (nearest rank: with q = 0.5, the
 * median; of one client, its own). Bandwidth estimates, among the clients that give one, the same
 * way from the worst link to the best at 1 − q. Between two middle clients the value that moves the
 * encoder less is taken both ways: the lower loss, the lower bandwidth (of two clients, one cannot
 * pull the bitrate down, nor push it up).
 *
 * So one viewer, whether its link is bad or its receiver reports are forged, does not lower the
 * picture of the others: it is served by the hub, which skips it to the next keyframe when it falls
 * behind. Raising `q` towards 1 follows the worse clients (1: the worst one governs).
 * `ignored` counts the clients whose own loss is above the seed's 5 % while the governing loss is not.
 */
export function aggregate(reports: ClientReport[], q = DEFAULT_QUANTILE): { loss: number; availableBandwidth?: number; ignored: number } {
  if (reports.length === 0) return { loss: 0, ignored: 0 };
  const losses = reports.map((r) => r.loss).sort((a, b) => a - b);
  const loss = losses[rank(losses.length, q)]!;
  const bws = reports
    .map((r) => r.availableBandwidth)
    .filter((b): b is number => b !== undefined)
    .sort((a, b) => a - b);
  return {
    loss,
    availableBandwidth: bws.length ? bws[rank(bws.length, 1 - q)] : undefined,
    ignored: loss > LOSS_THRESHOLD ? 0 : losses.filter((l) => l > LOSS_THRESHOLD).length,
  };
}

/** Index of quantile `q` among `n` ascending values (nearest rank, ⌈q·n⌉ counted from 1; the lower of two middle values). */
function rank(n: number, q: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
}
