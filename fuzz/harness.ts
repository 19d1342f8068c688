/**
 * The fuzzing loop shared by every target: inputs come from a fast-check arbitrary (grammar-aware
 * generators that build near-valid messages and then mutate their bytes, see `mutate.ts`), each one is
 * handed to the parser in-process, and three things are counted:
 *
 * - a **refusal**: the parser threw the typed error it documents for bad input (a `CamdError`, a
 *   `SoapFault`, …). That is the parser doing its job, not a finding;
 * - an **exception**: anything else thrown (a TypeError, a RangeError, a broken invariant checked by the
 *   target). Each one is a finding; the first few are kept with their input to reproduce them;
 * - a **slow** input: one whose parse cost more than `slowMs` of CPU time. CPU time, not wall time:
 *   on a machine shared with other work the scheduler stretches wall time at random, while a parser
 *   that backtracks or recurses burns CPU wherever it runs. A single long time may still be a GC
 *   pause, so a slow input is run again; it counts only when it is slow twice. The longest wall time
 *   is printed too.
 *
 * Runs are deterministic: a seed (printed) gives the same inputs again (`FUZZ_SEED`).
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import fc from 'fast-check';

export interface FuzzTarget<T> {
  name: string;
  /** What the target reads, one line (printed under the table). */
  what: string;
  arbitrary: fc.Arbitrary<T>;
  /** Hands one input to the parser; throws `Finding` (or anything unexpected) when something is wrong. */
  run(input: T): void | Promise<void>;
  /** Whether a thrown error is the documented, typed refusal of bad input. */
  refusal?(err: unknown): boolean;
  /** A printable form of an input, for the report of a finding. */
  show?(input: T): string;
  /** This parser's own bound on one input's time, when the run's default does not fit it (say why). */
  slowMs?: number;
  /** Inputs in CI's short pass when the default would make it too long (say why). */
  ciRuns?: number;
}

/** A broken invariant a target found (an answer that must not be, a value out of range). */
export class Finding extends Error {
  override name = 'Finding';
}

export interface FuzzResult {
  name: string;
  inputs: number;
  refusals: number;
  exceptions: number;
  slow: number;
  /** Longest CPU time (ms) one input took (the bounded-time figure). */
  maxMs: number;
  /** Longest wall time (ms) one input took, scheduler delays included. */
  maxWallMs: number;
  perSecond: number;
  /** The first few findings: the error and the input that caused it. */
  examples: { error: string; input: string }[];
}

export interface RunOptions {
  runs: number;
  seed: number;
  /** An input costing more CPU ms than this (twice in a row) is a finding. */
  slowMs: number;
  /** How many findings to keep with their input. */
  keep?: number;
  /** Called every 100,000 inputs (long runs say where they are). */
  progress?(r: FuzzResult): void;
  /** Called with each finding as it happens (a long run shows them before its end). */
  finding?(f: { error: string; input: string }): void;
}

const BATCH = 2000;

export async function runTarget<T>(t: FuzzTarget<T>, o: RunOptions): Promise<FuzzResult> {
  const r: FuzzResult = { name: t.name, inputs: 0, refusals: 0, exceptions: 0, slow: 0, maxMs: 0, maxWallMs: 0, perSecond: 0, examples: [] };
  const keep = o.keep ?? 3;
  const slowMs = t.slowMs ?? o.slowMs;
  const show = (x: T) => clip(t.show ? t.show(x) : inspect(x, { depth: 6, maxStringLength: 600, breakLength: 160 }));
  const once = async (x: T): Promise<{ ms: number; wall: number; err?: unknown }> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let err: unknown;
    try {
      const p = t.run(x);
      if (p) await p;
    } catch (e) {
      err = e ?? new Error('thrown undefined');
    }
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { ms: (c.user + c.system) / 1000, wall, err };
  };
  const started = performance.now();
  for (let b = 0; r.inputs < o.runs; b++) {
    const n = Math.min(BATCH, o.runs - r.inputs);
    // One seed per batch, derived from the run's: batches differ, and the whole run replays.
    const inputs = fc.sample(t.arbitrary, { numRuns: n, seed: (o.seed + b * 7919) | 0 });
    for (const x of inputs) {
      r.inputs++;
      if (r.inputs % 100_000 === 0) o.progress?.(r);
      let { ms, wall, err } = await once(x);
      if (wall > r.maxWallMs) r.maxWallMs = wall;
      if (ms > slowMs) {
        // Once more: a GC pause or the scheduler is not the parser's fault; a slow parse is slow again.
        const again = await once(x);
        ms = Math.min(ms, again.ms);
        if (ms > slowMs) {
          r.slow++;
          const f = { error: `slow: ${ms.toFixed(1)} ms of CPU`, input: show(x) };
          o.finding?.(f);
          if (r.examples.length < keep) r.examples.push(f);
        }
      }
      if (ms > r.maxMs) r.maxMs = ms;
      if (err === undefined) continue;
      if (!(err instanceof Finding) && t.refusal?.(err)) {
        r.refusals++;
        continue;
      }
      r.exceptions++;
      const f = { error: describe(err), input: show(x) };
      if (r.exceptions <= 10) o.finding?.(f);
      if (r.examples.length < keep) r.examples.push(f);
    }
  }
  r.perSecond = Math.round(r.inputs / ((performance.now() - started) / 1000));
  return r;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const at = err.stack?.split('\n').find((l) => l.includes(' at ')) ?? '';
    return `${err.name}: ${err.message}${at ? ` (${at.trim()})` : ''}`;
  }
  return `thrown non-error: ${inspect(err)}`;
}

function clip(s: string): string {
  return s.length > 1200 ? `${s.slice(0, 1200)}… (${s.length} chars)` : s;
}

export function formatTable(results: FuzzResult[]): string {
  const head = ['parser', 'inputs', 'refused', 'exceptions', 'slow', 'max ms (cpu)', 'max ms (wall)', 'inputs/s'];
  const rows = results.map((r) => [
    r.name,
    String(r.inputs),
    String(r.refusals),
    String(r.exceptions),
    String(r.slow),
    r.maxMs.toFixed(2),
    r.maxWallMs.toFixed(2),
    String(r.perSecond),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
