/**
 * The gst-launch-1.0 equivalent of what camd runs: built from the launch text camd logged for each
 * stream, so the encoder settings, overlays and compositor are camd's own fragments, verbatim. What
 * differs is only camd's plumbing: the source feeds the filters through one leaky queue, a shared
 * source is a `tee` instead of a capture pipeline with shared memory, and each stream ends in a sink
 * instead of `gdppay ! fdsink` to the daemon.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnTracked, stopTree } from './proc.js';

const LEAKY_QUEUE = 'queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream';

/** Splits at `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && quoted) {
      cur += c + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && text.startsWith(sep, i)) {
      out.push(cur);
      cur = '';
      i += sep.length - 1;
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

/** gst-launch-1.0 escapes each argument: the launch text goes in as words split outside quotes. */
export function launchArgv(launch: string): string[] {
  return splitOutsideQuotes(launch, ' ');
}

export interface StreamParts {
  /** The source elements camd's pipeline starts with (`videotestsrc …`, or `shmsrc … ! caps` when shared). */
  source: string[];
  /** The stream's raw caps (size, rate, I420). */
  rawCaps: string;
  /** Plugin filters between the raw caps and the encoder (overlays, compositor), verbatim. */
  filters: string[];
  /** From the encoder to the parser and its caps: `x264enc … ! video/x-h264,… ! h264parse … ! caps`. */
  encode: string[];
  /** Extra chains (PiP inputs), verbatim. */
  branches: string[];
}

/** Takes camd's launch text for a stream apart (see composeLaunch in packages/core/src/media/pipeline/launch.ts). */
export function streamParts(launch: string): StreamParts {
  const [main, ...branches] = splitOutsideQuotes(launch, '  ');
  const el = splitOutsideQuotes(main!, ' ! ');
  const q1 = el.findIndex((e) => e.startsWith('queue '));
  const raw = el.findIndex((e, i) => i > q1 && e.startsWith('video/x-raw,format=I420,width='));
  const enc = el.findIndex((e) => /\bname=encoder\b/.test(e));
  const sink = el.indexOf('gdppay');
  if (q1 < 1 || raw < 0 || enc < 0 || sink < 0) throw new Error(`unexpected camd launch text: ${launch}`);
  // Before the encoder camd has `videoconvert ! video/x-raw,format=I420 ! queue …`: its own glue.
  let fEnd = enc;
  if (el[fEnd - 1]?.startsWith('queue ')) fEnd--;
  if (el[fEnd - 1] === 'video/x-raw,format=I420' && el[fEnd - 2] === 'videoconvert') fEnd -= 2;
  return { source: el.slice(0, q1), rawCaps: el[raw]!, filters: el.slice(raw + 1, fEnd), encode: el.slice(enc, sink), branches };
}

/** Element names must be unique in one pipeline: suffix every `name=` of a stream and its references. */
function renamer(suffix: string, texts: string[]): (e: string) => string {
  const names = new Set<string>();
  for (const t of texts) for (const m of t.matchAll(/\bname=([A-Za-z0-9_]+)/g)) names.add(m[1]!);
  return (e) =>
    e
      .replace(/\bname=([A-Za-z0-9_]+)/g, (_, n: string) => `name=${n}${suffix}`)
      // References: `camd_pip.sink_1` ending a branch, `camd_pip_qos.` starting one.
      .replace(/(^|\s)([A-Za-z0-9_]+)\.(?=[A-Za-z0-9_%]*(\s|$))/g, (m, pre: string, n: string) => (names.has(n) ? `${pre}${n}${suffix}.` : m));
}

const capsOf = (caps: string) => {
  const w = /width=(\d+)/.exec(caps)?.[1];
  const h = /height=(\d+)/.exec(caps)?.[1];
  const f = /framerate=(\d+\/\d+)/.exec(caps)?.[1];
  return `${w}x${h}@${f}`;
};

export interface NativeStream {
  name: string;
  launch: string;
  /** For a stream on a shared capture: core's source fragment of that capture (`videotestsrc … pattern=…`). */
  sharedSource?: string;
}

/**
 * The gst-launch equivalent of a set of camd streams, as launch text. Each stream's output ends in
 * `fpsdisplaysink … video-sink=fakesink` (named `out_<stream>`) so delivered frames can be counted.
 */
export function nativeLaunch(streams: NativeStream[]): string {
  const chains: string[] = [];
  const tees = new Map<string, { name: string; caps: string }>();
  streams.forEach((s, i) => {
    const p = streamParts(s.launch);
    const texts = [...p.filters, ...p.encode, ...p.branches];
    const rn = renamer(`_${i}`, texts);
    const filters = p.filters.length ? [...p.filters.map(rn), 'videoconvert', 'video/x-raw,format=I420'] : [];
    const sink = `fpsdisplaysink name=out_${s.name} text-overlay=false video-sink=fakesink sync=false`;
    const tail = [...filters, ...p.encode.map(rn), sink];
    if (s.sharedSource) {
      // One source, a tee, and per stream a leaky queue (and scale/rate where its size or rate differs).
      const capCaps = p.source[1]!;
      let tee = tees.get(s.sharedSource);
      if (!tee) {
        tee = { name: `t${tees.size}`, caps: capCaps };
        tees.set(s.sharedSource, tee);
        chains.push([s.sharedSource, capCaps, `tee name=${tee.name}`].join(' ! '));
      }
      const convert = capsOf(tee.caps) === capsOf(p.rawCaps) ? [] : ['videoscale', 'videorate drop-only=true', p.rawCaps];
      chains.push([`${tee.name}.`, LEAKY_QUEUE, ...convert, ...tail].join(' ! '));
    } else {
      chains.push([...p.source, p.rawCaps, LEAKY_QUEUE, ...tail].join(' ! '));
    }
    chains.push(...p.branches.map(rn));
  });
  return chains.join('  ');
}

export interface GstLaunch {
  child: ChildProcess;
  pid: number;
  /** Frames delivered per stream since the start (from fpsdisplaysink), with when they were read. */
  rendered(): Map<string, { at: number; frames: number }>;
  output(): string;
  stop(): Promise<void>;
}

/** Runs `gst-launch-1.0 -v` on a launch text; fpsdisplaysink reports its counts every 0.5 s. */
export async function startGstLaunch(launch: string): Promise<GstLaunch> {
  const child = spawnTracked('gst-launch-1.0', ['-v', ...launchArgv(launch)]);
  let out = '';
  let partial = '';
  const counts = new Map<string, { at: number; frames: number }>();
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = /GstFPSDisplaySink:out_([^:]+): last-message = rendered: (\d+)/.exec(line);
      if (m) counts.set(m[1]!, { at: performance.now(), frames: Number(m[2]) });
      else if (out.length < 200_000) out += line + '\n';
    }
  });
  child.stderr!.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 1500));
  if (child.exitCode !== null) throw new Error(`gst-launch-1.0 exited with ${child.exitCode}:\n${out.slice(-2000)}\n${launch}`);
  return {
    child,
    pid: child.pid!,
    rendered: () => new Map(counts),
    output: () => out,
    stop: () => stopTree(child, 'SIGINT', 5000),
  };
}

/** Frames per second per stream between two `rendered()` readings. */
export function fpsBetween(a: Map<string, { at: number; frames: number }>, b: Map<string, { at: number; frames: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const u = a.get(k);
    if (u && v.at > u.at) out[k] = (v.frames - u.frames) / ((v.at - u.at) / 1000);
  }
  return out;
}
