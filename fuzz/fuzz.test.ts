/**
 * CI's short fuzzing pass: every target of `pnpm fuzz`, 2,000 inputs each (config files 1,000; FUZZ_CI_RUNS), with a fixed
 * seed so that a red run replays (FUZZ_SEED changes it). Fails on any exception that is not the
 * parser's documented refusal, on a broken invariant, and on an input slower than the bound twice.
 */
import { describe, expect, it } from 'vitest';
import { runTarget } from './harness.js';
import { TARGETS } from './targets/index.js';

const runs = Number(process.env.FUZZ_CI_RUNS ?? 2000);
const seed = Number(process.env.FUZZ_SEED ?? 15);

describe('fuzz (short pass)', () => {
  for (const t of TARGETS) {
    const n = process.env.FUZZ_CI_RUNS ? runs : (t.ciRuns ?? runs);
    it(`${t.name}: ${n} inputs without a finding`, async () => {
      const r = await runTarget(t, { runs: n, seed, slowMs: 100 });
      expect(r.inputs).toBe(n);
      // The examples carry the error and the input: what a red run needs to be reproduced.
      expect(r.examples, `${t.name} (seed ${seed})`).toEqual([]);
      expect(r.exceptions + r.slow).toBe(0);
    });
  }
});
