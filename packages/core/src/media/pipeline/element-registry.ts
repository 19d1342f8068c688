import { fork } from 'node:child_process';
import type { Logger } from 'pino';
import { CamdError, ErrorCodes } from '../../errors.js';
import type { ElementInfo, ElementRegistry, ElementTrial, EncoderCandidate, TrialRequest } from '../registry.js';
import type { DerivedCodec, EncoderChoice, FrameCodec, StreamSettings, VideoCodec } from '../types.js';
import { codecCeiling, type EncoderLimits } from '../encoder-limits.js';
import { debianPackageFor } from './packages.js';
import { childEntry } from './worker-path.js';
import type { FromMediaProcess } from './protocol.js';
import { defaultEncoderCandidates } from './encoders.js';
import { DECODERS, type DecoderCandidate } from './decoders.js';
import { decoderTrial, encoderTrial } from './element-trials.js';
import { derivedEncoderCandidates } from './derived-encoders.js';

/**
 * What this machine's GStreamer really has, learnt from GStreamer itself (in a short-lived media process, so
 * the daemon never loads GStreamer), plus the encoder candidates core and plugins register and the
 * results of their trial encodes.
 */
export class GstElementRegistry implements ElementRegistry {
  private readonly byName: Map<string, ElementInfo>;
  private readonly encoders: EncoderCandidate[] = [];
  private readonly trials = new Map<string, ElementTrial>();

  constructor(factories: readonly ElementInfo[]) {
    this.byName = new Map(factories.map((f) => [f.name, f]));
    for (const c of [...defaultEncoderCandidates(), ...derivedEncoderCandidates()]) this.registerEncoder(c);
  }

  has(factory: string): boolean {
    return this.byName.has(factory);
  }

  get(factory: string): ElementInfo | undefined {
    return this.byName.get(factory);
  }

  list(): readonly ElementInfo[] {
    return [...this.byName.values()];
  }

  packageFor(factory: string): string | undefined {
    return debianPackageFor(factory);
  }

  registerEncoder(candidate: EncoderCandidate): void {
    this.encoders.push(candidate);
  }

  encoderCandidates(): readonly EncoderCandidate[] {
    return [...this.encoders].sort((a, b) => a.codec.localeCompare(b.codec) || rankOrder(a, b));
  }

  /** Candidates for a codec, best first: hardware first, then by priority. */
  private candidates(codec: FrameCodec): EncoderCandidate[] {
    return this.encoders.filter((c) => c.codec === codec).sort(rankOrder);
  }

  trial(factory: string): ElementTrial | undefined {
    return this.trials.get(factory);
  }

  recordTrials(results: readonly ElementTrial[]): void {
    for (const r of results) this.trials.set(r.factory, r);
  }

  trialRequests(opts: { everything?: boolean } = {}): TrialRequest[] {
    const wanted = (factory: string, hardware: boolean) => this.has(factory) && !this.trials.has(factory) && (hardware || !!opts.everything);
    const out = new Map<string, TrialRequest>();
    for (const c of this.encoders) if (wanted(c.factory, c.hardware)) out.set(c.factory, encoderTrial(c));
    for (const d of DECODERS) if (wanted(d.factory, d.hardware) && !out.has(d.factory)) out.set(d.factory, decoderTrial(d));
    return [...out.values()];
  }

  /** Present, and not failed its trial (a hardware element not tried yet counts as usable). */
  private usable(factory: string): boolean {
    return this.has(factory) && this.trials.get(factory)?.ok !== false;
  }

  encoderLimits(codec: VideoCodec, encoder?: string): EncoderLimits | undefined {
    const named = encoder ? this.candidates(codec).find((c) => c.factory === encoder && this.has(c.factory)) : undefined;
    const c = named ?? this.candidates(codec).find((x) => this.usable(x.factory));
    return c && (c.limits ? { ...c.limits, encoder: c.factory } : codecCeiling(codec, c.factory));
  }

  chooseEncoder(settings: StreamSettings): EncoderChoice {
    const candidates = this.candidates(settings.codec);
    const configured = settings.encoder ? this.encoders.find((c) => c.factory === settings.encoder) : undefined;
    let note = '';
    if (settings.encoder && configured?.codec === settings.codec) {
      if (!this.has(configured.factory)) {
        const pkg = this.packageFor(configured.factory);
        throw new CamdError(
          ErrorCodes.GST_ELEMENT_MISSING,
          `the configured encoder "${configured.factory}" of stream "${settings.name}" is not available on this machine${pkg ? `; install the Debian package ${pkg}` : ''}`,
          { details: { element: configured.factory, package: pkg } },
        );
      }
      const t = this.trials.get(configured.factory);
      const trial = t ? (t.ok ? ', trial encode passed' : `; its trial encode failed (${t.reason}), used as configured`) : '';
      return { ...(configured.build(settings) as EncoderChoice), family: configured.family, reason: `configured (encoder "${configured.factory}")${trial}` };
    }
    if (settings.encoder) {
      note = configured
        ? `configured encoder ${settings.encoder} makes ${configured.codec}, not ${settings.codec}; `
        : `configured encoder ${settings.encoder} is not a known encoder; `;
    }
    const skipped: string[] = [];
    for (const c of candidates) {
      if (!this.has(c.factory)) continue;
      const t = this.trials.get(c.factory);
      if (t && !t.ok) {
        skipped.push(`${c.factory} failed its trial encode (${t.reason})`);
        continue;
      }
      // Software comes only after every present hardware candidate failed, or when there is none.
      const why = c.hardware
        ? `hardware (${c.family ?? c.owner}), ${t ? `trial encode passed in ${t.ms ?? 0} ms` : 'not tried'}`
        : skipped.length
          ? 'software'
          : `software: no hardware ${settings.codec} encoder on this machine`;
      const fell = skipped.length ? `, after ${skipped.join('; ')}` : '';
      // A candidate of the stream's codec builds an encoder of that codec.
      return { ...(c.build(settings) as EncoderChoice), family: c.family, reason: `${note}${why}${fell}` };
    }
    const tried = candidates
      .map(
        (c) => `${c.factory} (${this.has(c.factory) ? (this.trials.get(c.factory)?.reason ?? 'present') : (this.packageFor(c.factory) ?? 'unknown package')})`,
      )
      .join(', ');
    throw new CamdError(ErrorCodes.GST_NO_ENCODER, `no ${settings.codec} encoder on this machine; tried ${tried || 'none registered'}`);
  }

  /** A board's hardware encoder of the codec first (unless its trial failed), then software. */
  chooseDerivedEncoder(codec: DerivedCodec, settings: StreamSettings): EncoderChoice<DerivedCodec> | undefined {
    const c = this.candidates(codec).find((x) => this.usable(x.factory));
    return c && ({ ...c.build(settings), family: c.family } as EncoderChoice<DerivedCodec>);
  }

  candidatesFor(codec: FrameCodec): readonly string[] {
    return this.candidates(codec).map((c) => c.factory);
  }

  chooseDecoder(format: DecoderCandidate['format']): DecoderCandidate | undefined {
    return DECODERS.find((d) => d.format === format && this.usable(d.factory) && (!d.hardware || this.trials.get(d.factory)?.ok === true));
  }

  validateLaunch(launch: string, declared: readonly string[] = []): void {
    for (const factory of new Set([...declared, ...factoriesIn(launch)])) {
      if (!this.has(factory)) {
        const pkg = this.packageFor(factory);
        throw new CamdError(
          ErrorCodes.GST_ELEMENT_MISSING,
          `GStreamer element "${factory}" is not available on this machine${pkg ? `; install the Debian package ${pkg}` : ''}`,
          { details: { element: factory, package: pkg } },
        );
      }
    }
  }
}

/** Hardware first, then higher priority. */
const rankOrder = (a: EncoderCandidate, b: EncoderCandidate) => Number(b.hardware) - Number(a.hardware) || b.priority - a.priority;

/**
 * Factory names in gst-launch text: the first word of each link segment, skipping caps
 * (`video/x-raw,…`), properties (`a=b`), pad references (`name.` / `name.pad`) and quoted strings.
 */
export function factoriesIn(launch: string): string[] {
  // A token is a run of non-space characters and quoted strings (`text="two words"`), or a link.
  const tokens = launch.match(/(?:[^\s!"']+|"(?:[^"\\]|\\.)*"|'[^']*')+|!/g) ?? [];
  const out: string[] = [];
  let expectElement = true;
  for (const t of tokens) {
    if (t === '!') {
      expectElement = true;
      continue;
    }
    if (t.startsWith('"') || t.startsWith("'") || t.includes('=')) continue;
    if (expectElement) {
      expectElement = false;
      if (t.includes('/') || t.includes('.') || t.includes(',')) continue; // caps or pad reference
      out.push(t);
    } else if (!t.includes('/') && !t.includes('.') && !t.includes(',')) {
      out.push(t); // a new chain started without a link: `… x264enc name=e  videotestsrc ! …`
    }
  }
  return out;
}

/** Runs a short-lived media process (`media-host <args>`) and resolves with its one answer of `type`. */
function askMediaHost<T extends FromMediaProcess['type']>(
  args: string[],
  type: T,
  what: string,
  timeoutMs: number,
): Promise<Extract<FromMediaProcess, { type: T }>> {
  return new Promise((resolve, reject) => {
    const entry = childEntry('media-host');
    const child = fork(entry.path, args, { execArgv: entry.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (m: FromMediaProcess) => {
      if (m.type === type) {
        clearTimeout(timer);
        resolve(m as Extract<FromMediaProcess, { type: T }>);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${what} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Asks GStreamer (in a short-lived media process) for every element factory it has. */
export async function inspectElements(timeoutMs = 30_000): Promise<ElementInfo[]> {
  return (await askMediaHost(['inspect'], 'inspect', 'GStreamer inspection', timeoutMs)).factories;
}

/**
 * The caps a source element produces, read by GStreamer in a short-lived media process with the
 * element in READY (`v4l2src device=/dev/video0`: the formats, sizes and rates the driver enumerates).
 * Throws when the element cannot be made or opened.
 */
export async function querySourceCaps(launch: string, timeoutMs = 15_000): Promise<string> {
  const m = await askMediaHost(['caps', launch], 'caps', `reading the caps of ${launch}`, timeoutMs);
  if (m.caps === undefined) throw new Error(m.error ?? `${launch} reported no caps`);
  return m.caps;
}

let cached: Promise<ElementInfo[]> | undefined;

/** The registry of this machine (GStreamer is asked once per process). */
export async function loadElementRegistry(opts: { logger?: Logger } = {}): Promise<GstElementRegistry> {
  cached ??= inspectElements();
  try {
    const factories = await cached;
    opts.logger?.debug({ factories: factories.length }, 'GStreamer elements inspected');
    return new GstElementRegistry(factories);
  } catch (err) {
    cached = undefined;
    throw err;
  }
}
