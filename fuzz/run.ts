/**
 * `pnpm fuzz [name…]`: every parser of network or file input, FUZZ_RUNS inputs each (default
 * 1,000,000), in this process. Prints a table (parser, inputs, typed refusals, exceptions, slow inputs,
 * the longest time one input took, throughput) and the first findings with their inputs; exits 1 when
 * there is any finding. FUZZ_SEED replays a run; FUZZ_SLOW_MS (default 100) is the per-input bound.
 */
import { formatTable, runTarget, type FuzzResult } from './harness.js';
import { TARGETS } from './targets/index.js';

const runs = Number(process.env.FUZZ_RUNS ?? 1_000_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const slowMs = Number(process.env.FUZZ_SLOW_MS ?? 100);
const only = process.argv.slice(2);
const targets = TARGETS.filter((t) => only.length === 0 || only.some((o) => t.name.startsWith(o)));
if (targets.length === 0) {
  console.error(`no fuzz target matches ${only.join(' ')}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

// A rejection nobody handles or an exception escaping to the event loop (a parser's async tail) is a
// finding of the target that was running.
let current: FuzzResult | undefined;
const escaped: { target: string; error: string }[] = [];
const onEscape = (err: unknown) => escaped.push({ target: current?.name ?? '?', error: String((err as Error)?.stack ?? err) });
process.on('unhandledRejection', onEscape);
process.on('uncaughtException', onEscape);
// The yaml package warns (process.emitWarning) about collection keys; a million times is noise, not a finding.
let warnings = 0;
process.removeAllListeners('warning');
process.on('warning', () => void warnings++);

console.log(`fuzz: ${runs} inputs per parser, seed ${seed} (FUZZ_SEED=${seed} replays), slow bound ${slowMs} ms`);
const results: FuzzResult[] = [];
for (const t of targets) {
  const started = Date.now();
  const r = await runTarget(t, {
    runs,
    seed,
    slowMs,
    finding: (f) => console.error(`  ! ${t.name}: ${f.error}\n    input: ${f.input.slice(0, 300)}`),
    progress: (p) =>
      console.error(`  … ${p.name}: ${p.inputs} inputs, ${p.exceptions} exceptions, ${p.slow} slow, ${((Date.now() - started) / 1000).toFixed(0)} s`),
  });
  current = r;
  await new Promise((res) => setImmediate(res));
  const late = escaped.filter((e) => e.target === t.name || e.target === '?').length;
  r.exceptions += late;
  results.push(r);
  console.log(`  ${t.name}: ${r.inputs} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s, ${r.exceptions} exceptions, ${r.slow} slow`);
}
console.log(`\n${formatTable(results)}\n`);
if (warnings) console.log(`  (${warnings} process warnings suppressed, e.g. yaml's "keys with collection values")`);
for (const t of targets) console.log(`  ${t.name}: ${t.what}`);
let findings = 0;
for (const r of results) {
  for (const e of r.examples) {
    findings++;
    console.log(`\nFINDING ${r.name}: ${e.error}\n  input: ${e.input}`);
  }
}
for (const e of escaped) console.log(`\nFINDING ${e.target} (escaped to the event loop): ${e.error}`);
const bad = results.some((r) => r.exceptions > 0 || r.slow > 0) || escaped.length > 0;
console.log(bad ? `\nfuzz: findings (${findings + escaped.length} shown)` : '\nfuzz: no findings');
process.exit(bad ? 1 : 0);
