import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces and parentheses): f[0] is the state (field 3).
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** CPU seconds of a process including its children that have exited and been waited for (cutime, cstime). */
function cpuWithReaped(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

export const median = (xs: number[]) => percentile(xs, 0.5);

/** `pid` and every live descendant of it (children, grandchildren, …), from /proc. */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(statFields(Number(d))[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  try {
    statFields(root);
  } catch {
    return [];
  }
  walk(root);
  return out;
}

/**
 * CPU seconds used so far by a whole process tree: each live process's own time plus what its exited
 * children left in its cutime/cstime, so a child that ends during a measuring window is still counted.
 * The CPU of a window is the difference of two calls.
 */
export function treeCpuSeconds(root: number): number {
  let total = 0;
  for (const pid of treePids(root)) {
    try {
      total += cpuWithReaped(pid);
    } catch {
      /* exited between the walk and the read */
    }
  }
  return total;
}

/** CPU seconds the whole machine has been busy (all cores: /proc/stat minus idle and iowait). */
export function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3]! - f[4]!) / TICKS;
}

export interface CoresWindow {
  /** Cores used by the tree (1.0 = one core busy the whole window). */
  cores: number;
  /** Cores used meanwhile by everything else on the machine except `alsoMine` (others' work skews the figure). */
  otherCores: number;
  seconds: number;
}

const sumTrees = (roots: number[]) => roots.reduce((a, r) => a + treeCpuSeconds(r), 0);

/**
 * Cores used by a process tree over `seconds` of wall time, and by the rest of the machine meanwhile
 * (not counting the trees `alsoMine`, e.g. the bench's own RTSP readers).
 */
export async function measureCores(root: number, seconds: number, opts: { during?: () => Promise<void>; alsoMine?: number[] } = {}): Promise<CoresWindow> {
  const mine = opts.alsoMine ?? [];
  const c0 = treeCpuSeconds(root);
  const x0 = sumTrees(mine);
  const m0 = machineBusySeconds();
  const t0 = performance.now();
  await Promise.all([new Promise((r) => setTimeout(r, seconds * 1000)), opts.during?.()]);
  const wall = (performance.now() - t0) / 1000;
  const cores = (treeCpuSeconds(root) - c0) / wall;
  const x = (sumTrees(mine) - x0) / wall;
  return { cores, otherCores: Math.max(0, (machineBusySeconds() - m0) / wall - cores - x), seconds: wall };
}

/** Cores used by a process tree over `seconds` of wall time (1.0 = one core busy all the time). */
export async function treeCores(root: number, seconds: number, during?: () => Promise<void>): Promise<number> {
  return (await measureCores(root, seconds, { during })).cores;
}

/**
 * Waits (up to `maxMs`) until the machine, apart from the trees `mine`, has used less than
 * `threshold` cores over `sampleS` seconds: other people's work on a two-core machine skews figures.
 * Resolves with the other load last seen.
 */
export async function waitQuiet(mine: number[] = [], threshold = 0.15, maxMs = 30_000, sampleS = 3): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const c0 = sumTrees(mine);
    const m0 = machineBusySeconds();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, sampleS * 1000));
    const wall = (performance.now() - t0) / 1000;
    const other = Math.max(0, (machineBusySeconds() - m0 - (sumTrees(mine) - c0)) / wall);
    if (other < threshold || Date.now() > deadline) return other;
  }
}

function statusKiB(pid: number, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export const rssKiB = (pid: number) => statusKiB(pid, 'VmRSS');

/** Proportional set size (shared pages divided among the processes mapping them), from smaps_rollup. */
export function pssKiB(pid: number): number {
  return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
}

/** What a process is, for tables: its command name and the first telling argument. */
export function processLabel(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const script = argv.filter((a, i) => i > 0 && !a.startsWith('-') && !a.startsWith('file:') && /\.(c?[jt]s|mjs)$/.test(a)).pop();
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    return script ? `${comm} ${script.split('/').slice(-2).join('/')}` : comm;
  } catch {
    return '?';
  }
}

export interface TreeMemory {
  pssKiB: number;
  rssKiB: number;
  processes: Array<{ pid: number; label: string; pssKiB: number; rssKiB: number }>;
}

/** PSS (and RSS, per process) of a whole process tree. The PSS sum counts pages shared inside the tree once. */
export function treeMemory(root: number): TreeMemory {
  const processes = treePids(root).flatMap((pid) => {
    try {
      return [{ pid, label: processLabel(pid), pssKiB: pssKiB(pid), rssKiB: rssKiB(pid) }];
    } catch {
      return [];
    }
  });
  return { pssKiB: processes.reduce((a, p) => a + p.pssKiB, 0), rssKiB: processes.reduce((a, p) => a + p.rssKiB, 0), processes };
}

export const MiB = (kib: number) => kib / 1024;

/**
 * Processes a bench started, so that none outlives it: `stopAll` in a finally, and a SIGKILL of
 * every tree still alive when the bench process exits (also on an exception or Ctrl-C).
 */
const started = new Set<ChildProcess>();
function killAllNow(): void {
  for (const c of started) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    for (const pid of treePids(c.pid).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
process.once('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllNow();
    process.exit(130);
  });
}

/** Spawns a process that the bench stops at the end whatever happens (see `stopTree`). */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/**
 * Stops a started process and everything under it: `signal` to the process, then after `graceMs`
 * SIGKILL to every process of its tree still alive (descendants are collected before the signal, so
 * a media process orphaned by its daemon's exit is killed too).
 */
export async function stopTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.pid === undefined) return;
  const tree = treePids(child.pid);
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  try {
    child.kill(signal);
  } catch {
    /* gone */
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
  // Descendants get a moment to follow their parent out, then whatever is left is killed.
  const deadline = Date.now() + 2000;
  for (;;) {
    const alive = tree.filter((pid) => {
      try {
        return statFields(pid)[0] !== 'Z';
      } catch {
        return false;
      }
    });
    if (alive.length === 0) break;
    if (Date.now() > deadline) {
      for (const pid of alive) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  started.delete(child);
}

/** CPU seconds so far of every thread of a process tree, keyed `pid/tid`, with the thread's name. */
export function treeThreadCpu(root: number): Map<string, { process: string; thread: string; seconds: number }> {
  const out = new Map<string, { process: string; thread: string; seconds: number }>();
  for (const pid of treePids(root)) {
    const label = processLabel(pid);
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const thread = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(`${pid}/${tid}`, { process: label, thread, seconds: (Number(f[11]) + Number(f[12])) / TICKS });
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** The busiest threads between two `treeThreadCpu` readings, as "process/thread 23%" (percent of a core). */
export function busiestThreads(a: ReturnType<typeof treeThreadCpu>, b: ReturnType<typeof treeThreadCpu>, seconds: number, minPercent = 2): string[] {
  const byName = new Map<string, number>();
  for (const [k, v] of b) {
    const d = v.seconds - (a.get(k)?.seconds ?? 0);
    const name = `${v.process
      .split(' ')
      .pop()!
      .replace(/\.[cm]?[jt]s$/, '')}/${v.thread}`;
    byName.set(name, (byName.get(name) ?? 0) + d);
  }
  return [...byName]
    .map(([n, s]) => [n, (100 * s) / seconds] as const)
    .filter(([, p]) => p >= minPercent)
    .sort((x, y) => y[1] - x[1])
    .map(([n, p]) => `${n} ${p.toFixed(0)}%`);
}
