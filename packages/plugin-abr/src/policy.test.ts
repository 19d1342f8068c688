import { describe, expect, it } from 'vitest';
import { aggregate, seedPolicy, type AbrInput } from './policy.js';

const base: Omit<AbrInput, 'now'> = {
  stream: 's',
  current: 4_000_000,
  loss: 0,
  lastChangeAt: 0,
  bounds: { min: 500_000, max: 12_000_000, nominal: 4_000_000 },
  timing: { decreaseIntervalMs: 2000, increaseIntervalMs: 5000, recoverAfterMs: 8000 },
};

/** Replays a feedback sequence (one report a second) through the policy, applying its decisions. */
function replay(seq: Array<Partial<AbrInput>>, start: Partial<AbrInput> = {}) {
  let current = start.current ?? base.current;
  let lastChangeAt = -1e9;
  let cleanSince: number | undefined = 0;
  const out: number[] = [];
  seq.forEach((step, t) => {
    const now = t * 1000;
    const loss = step.loss ?? 0;
    if (loss >= 0.01) cleanSince = undefined;
    else cleanSince ??= now;
    const d = seedPolicy({ ...base, ...start, ...step, current, now, lastChangeAt, cleanSince, loss });
    if (d) {
      current = d.target;
      lastChangeAt = now;
    }
    out.push(current);
  });
  return out;
}

describe('seedPolicy', () => {
  it('cuts 20 % on loss above 5 %, not at or below it', () => {
    expect(seedPolicy({ ...base, now: 10_000, loss: 0.06 })).toMatchObject({ target: 3_200_000, reason: expect.stringMatching(/loss 6.0% > 5%/) });
    expect(seedPolicy({ ...base, now: 10_000, loss: 0.05 })).toBeUndefined();
  });

  it('raises 20 % when the receivers report more than 1.5 × the current bandwidth, capped at 12 Mbit/s', () => {
    expect(seedPolicy({ ...base, now: 10_000, availableBandwidth: 6_100_000 })?.target).toBe(4_800_000);
    expect(seedPolicy({ ...base, now: 10_000, availableBandwidth: 5_900_000 })).toBeUndefined();
    expect(seedPolicy({ ...base, current: 11_000_000, now: 10_000, availableBandwidth: 30_000_000 })?.target).toBe(12_000_000);
    expect(seedPolicy({ ...base, current: 12_000_000, now: 10_000, availableBandwidth: 30_000_000 })).toBeUndefined();
  });

  it('never goes below the floor during a long loss burst', () => {
    const out = replay(Array(60).fill({ loss: 0.4 }));
    expect(Math.min(...out)).toBe(500_000);
    expect(out.at(-1)).toBe(500_000);
  });

  it('backs off at most once per decrease interval (no collapse on a burst of reports)', () => {
    const out = replay(Array(5).fill({ loss: 0.2 }));
    // reports at 0,1,2,3,4 s with a 2 s interval: cuts at 0, 2 and 4 s
    expect(out).toEqual([3_200_000, 3_200_000, 2_560_000, 2_560_000, 2_048_000]);
  });

  it('recovers towards the configured bitrate after a clean period, never beyond it without evidence', () => {
    const out = replay([...Array(6).fill({ loss: 0.2 }), ...Array(90).fill({ loss: 0 })]);
    expect(Math.min(...out)).toBeLessThan(2_100_000);
    expect(out.at(-1)).toBe(4_000_000);
    expect(Math.max(...out)).toBe(4_000_000);
  });

  it('does not oscillate on noisy bandwidth estimates around the threshold', () => {
    const noisy = Array.from({ length: 120 }, (_, t) => ({ availableBandwidth: 5_000_000 + (t % 2 ? 1_500_000 : -1_500_000) }));
    const out = replay(noisy, { current: 4_000_000 });
    let directionChanges = 0;
    for (let i = 2; i < out.length; i++) {
      const a = Math.sign(out[i - 1]! - out[i - 2]!);
      const b = Math.sign(out[i]! - out[i - 1]!);
      if (a !== 0 && b !== 0 && a !== b) directionChanges++;
    }
    expect(directionChanges).toBe(0);
    // It settled: the last minute has no change at all.
    expect(new Set(out.slice(60)).size).toBe(1);
  });

  it('alternating loss bursts and clean seconds do not make it climb while loss keeps returning', () => {
    const out = replay(Array.from({ length: 60 }, (_, t) => ({ loss: t % 3 === 0 ? 0.1 : 0 })));
    for (let i = 1; i < out.length; i++) expect(out[i]!).toBeLessThanOrEqual(out[i - 1]!);
  });
});

describe('aggregate: the encoder follows a quantile of its clients, not the worst one', () => {
  const r = (loss: number, availableBandwidth?: number) => ({ loss, availableBandwidth, at: 0 });

  it('the median client governs by default: one viewer claiming 25 % loss among honest ones moves nothing', () => {
    expect(aggregate([r(0), r(0), r(0.25)])).toMatchObject({ loss: 0, ignored: 1 });
    expect(aggregate([r(0.01), r(0.25)])).toMatchObject({ loss: 0.01, ignored: 1 });
    expect(aggregate([r(0), r(0.9), r(0.01), r(0.02)]).loss).toBe(0.01);
  });

  it('with one client its reports count (quantile of one), and when most clients lose, the loss governs', () => {
    expect(aggregate([r(0.25)])).toMatchObject({ loss: 0.25, ignored: 0 });
    expect(aggregate([r(0.08), r(0.1), r(0)])).toMatchObject({ loss: 0.08, ignored: 0 });
  });

  it('abrQuantile moves it: 1 is the worst client, 0 the best', () => {
    const all = [r(0), r(0.02), r(0.3)];
    expect(aggregate(all, 1).loss).toBe(0.3);
    expect(aggregate(all, 0).loss).toBe(0);
    expect(aggregate(all, 0.9).loss).toBe(0.3);
    expect(aggregate(all, 0.6).loss).toBe(0.02);
  });

  it('bandwidth: the same quantile from the worst link; of two middle values the lower, so one client cannot push it up either', () => {
    expect(aggregate([r(0, 9e6), r(0, 3e6)]).availableBandwidth).toBe(3e6);
    expect(aggregate([r(0, 9e6), r(0, 3e6), r(0, 5e6)]).availableBandwidth).toBe(5e6);
    expect(aggregate([r(0, 9e6), r(0, 3e6), r(0, 5e6)], 1).availableBandwidth).toBe(3e6);
    expect(aggregate([r(0, 9e6), r(0, 3e6), r(0, 5e6)], 0).availableBandwidth).toBe(9e6);
    // Clients without an estimate (RTSP) are not counted for it.
    expect(aggregate([r(0, 4e6), r(0), r(0)]).availableBandwidth).toBe(4e6);
    expect(aggregate([r(0), r(0)]).availableBandwidth).toBeUndefined();
  });

  it('the seed rule applies to the quantile: the shared encoder is lowered only when the median client loses more than 5 %', () => {
    const input = { stream: 's', current: 4_000_000, now: 10_000, lastChangeAt: 0, bounds: { min: 500_000, max: 12_000_000, nominal: 4_000_000 } };
    const timing = { decreaseIntervalMs: 0, increaseIntervalMs: 0, recoverAfterMs: 0 };
    expect(seedPolicy({ ...input, timing, loss: aggregate([r(0), r(0), r(0.25)]).loss })).toBeUndefined();
    expect(seedPolicy({ ...input, timing, loss: aggregate([r(0.06), r(0.07), r(0.25)]).loss })).toMatchObject({ target: 3_200_000 });
  });
});
