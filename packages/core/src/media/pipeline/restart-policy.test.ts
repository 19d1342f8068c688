import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RestartSupervisor, STABLE_MS } from './restart-policy.js';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe('RestartSupervisor', () => {
  it('restarts after 1, 2, 5, 10, then every 30 s, and starts over after a stable run', () => {
    const restarts: number[] = [];
    const sup = new RestartSupervisor(() => restarts.push(Date.now()));
    sup.start();
    const t0 = Date.now();
    for (const expected of [1000, 2000, 5000, 10_000, 30_000, 30_000]) {
      sup.failed('boom');
      vi.advanceTimersByTime(expected - 1);
      const before = restarts.length;
      vi.advanceTimersByTime(1);
      expect(restarts.length).toBe(before + 1);
    }
    expect(restarts.at(-1)! - t0).toBe(78_000);
    sup.running(STABLE_MS - 1);
    sup.failed('again');
    vi.advanceTimersByTime(1000);
    expect(restarts).toHaveLength(6); // still backing off at 30 s
    sup.running(STABLE_MS);
    vi.advanceTimersByTime(30_000);
    sup.failed('after a stable run');
    vi.advanceTimersByTime(1000);
    expect(restarts).toHaveLength(8);
    expect(sup.stats()).toEqual({ errors: 8, restarts: 8, lastError: 'after a stable run' });
  });

  it('counts failures after stop but schedules nothing; retryNow restarts a waiting subject at once', () => {
    const run = vi.fn();
    const sup = new RestartSupervisor(run);
    sup.start();
    sup.failed('x');
    expect(sup.waiting).toBe(true);
    expect(sup.retryNow()).toBe(true);
    expect(run).toHaveBeenCalledTimes(1);
    expect(sup.retryNow()).toBe(false);
    sup.stop();
    sup.failed('y');
    vi.advanceTimersByTime(60_000);
    expect(run).toHaveBeenCalledTimes(1);
    expect(sup.stats()).toMatchObject({ errors: 2, restarts: 1, lastError: 'y' });
  });

  it('counts only the last ten minutes of failures as recent', () => {
    let now = 0;
    const sup = new RestartSupervisor(
      () => undefined,
      undefined,
      () => now,
    );
    sup.failed('a');
    now = 5 * 60_000;
    sup.failed('b');
    expect(sup.recentErrors()).toBe(2);
    now = 10 * 60_000 + 1;
    expect(sup.recentErrors()).toBe(1);
  });
});
