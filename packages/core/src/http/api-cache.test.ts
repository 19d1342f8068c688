import { describe, expect, it } from 'vitest';
import { cachedJson } from './api.js';

describe('cachedJson (the /api/stats report)', () => {
  it('builds once per interval whatever the number of callers, and again after invalidate', () => {
    let now = 0;
    let builds = 0;
    const get = cachedJson(
      250,
      () => ({ n: ++builds }),
      () => now,
    );
    const bodies = Array.from({ length: 1000 }, () => get());
    expect(new Set(bodies)).toEqual(new Set(['{"n":1}']));
    now = 249;
    expect(get()).toBe('{"n":1}');
    now = 250;
    expect(get()).toBe('{"n":2}');
    get.invalidate();
    expect(get()).toBe('{"n":3}');
    expect(builds).toBe(3);
  });
});
