import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { GdpReader, parseCaps, parseSegment, FLAG_DELTA_UNIT } from './gdp.js';
import type { FromWorker, PropertyValue, ToWorker } from './protocol.js';
import type { StartProperty } from '../types.js';
import { WORKER_PATH, workerExecArgv } from './worker-path.js';

/** One access unit out of the encoder, before it becomes an EncodedFrame. */
export interface RawFrame {
  data: Buffer;
  keyframe: boolean;
  /** Capture time on the wall clock, ms since the epoch. */
  captureTimeMs: number;
  width?: number;
  height?: number;
}

export interface WorkerEvents {
  frame: [RawFrame];
  playing: [];
  error: [{ message: string; debug?: string; source?: string }];
  warning: [{ message: string; source?: string }];
  log: [{ message: string; source: string }];
  exit: [{ code: number | null; signal: NodeJS.Signals | null }];
}

/** Every live worker of this process, so that an exiting daemon takes them along. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * One pipeline worker process: spawns it, turns its fd-3 GDP output into frames with wall-clock
 * capture times, and forwards control calls. Restart policy lives in the caller.
 */
export class WorkerProcess extends EventEmitter<WorkerEvents> {
  readonly child: ChildProcess;
  private readonly reader = new GdpReader();
  private baseTimeNs: bigint | undefined;
  private segment = { start: 0n, base: 0n };
  private caps: { width?: number; height?: number } = {};
  private pending: RawFrame[] = [];
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private exited = false;

  constructor(launch: string, startProperties: readonly StartProperty[] = []) {
    super();
    this.child = fork(WORKER_PATH, ['run'], { execArgv: workerExecArgv(), stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    live.add(this.child);
    const media = this.child.stdio[3] as Readable;
    media.on('data', (chunk: Buffer) => this.onMedia(chunk));
    media.on('error', () => undefined);
    let stderr = '';
    this.child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    this.child.on('message', (m: FromWorker) => this.onMessage(m));
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      live.delete(this.child);
      for (const r of this.replies.values()) r.reject(new Error('the pipeline worker exited'));
      this.replies.clear();
      if (code !== 0 && signal === null && stderr.trim()) {
        // The error line says what happened; the stack tail does not.
        const lines = stderr.trim().split('\n');
        const error = lines.find((l) => /Error|CRITICAL|assert/i.test(l)) ?? lines.at(-1)!;
        this.emit('warning', { message: error.trim(), source: 'worker stderr' });
      }
      this.emit('exit', { code, signal });
    });
    this.command({ type: 'start', launch, startProperties });
  }

  /** Pipeline base time on the realtime clock, ns since the epoch (once the worker started). */
  get baseTime(): bigint {
    return this.baseTimeNs ?? 0n;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  setProperty(element: string, property: string, value: PropertyValue, pad?: string): Promise<void> {
    if (this.exited) return Promise.reject(new Error('the pipeline is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.command({ type: 'set', id, element, pad, property, value });
    });
  }

  requestKeyframe(): void {
    this.command({ type: 'keyframe' });
  }

  /** Asks the worker to stop; kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.command({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  private command(msg: ToWorker): void {
    if (this.exited || !this.child.connected) return;
    this.child.send(msg, (err) => {
      if (err) this.emit('warning', { message: `could not reach the pipeline worker: ${err.message}` });
    });
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'starting':
        this.baseTimeNs = BigInt(m.baseTimeNs);
        for (const f of this.pending.splice(0)) this.emit('frame', this.stamp(f));
        break;
      case 'playing':
        this.emit('playing');
        break;
      case 'error':
        this.emit('error', m);
        break;
      case 'warning':
        this.emit('warning', m);
        break;
      case 'log':
        this.emit('log', m);
        break;
      case 'reply': {
        const r = this.replies.get(m.id);
        this.replies.delete(m.id);
        if (r) m.ok ? r.resolve() : r.reject(new Error(m.error ?? 'failed'));
        break;
      }
      default:
        break;
    }
  }

  private onMedia(chunk: Buffer): void {
    let packets;
    try {
      packets = this.reader.push(chunk);
    } catch (err) {
      this.emit('error', { message: `corrupt media stream from the worker: ${(err as Error).message}` });
      this.kill();
      return;
    }
    for (const p of packets) {
      if (p.kind === 'caps') {
        const c = parseCaps(p.caps);
        this.caps = { width: c.width, height: c.height };
      } else if (p.kind === 'event') {
        const seg = parseSegment(p.structure);
        if (seg) this.segment = seg;
      } else {
        const pts = p.pts ?? p.dts ?? 0n;
        // Running time (ns) of the buffer: what base time is added to.
        const running = pts - this.segment.start + this.segment.base;
        const frame: RawFrame = {
          data: p.data,
          keyframe: (p.flags & FLAG_DELTA_UNIT) === 0,
          captureTimeMs: Number(running) / 1e6,
          width: this.caps.width,
          height: this.caps.height,
        };
        if (this.baseTimeNs === undefined) this.pending.push(frame);
        else this.emit('frame', this.stamp(frame));
      }
    }
  }

  private stamp(f: RawFrame): RawFrame {
    return { ...f, captureTimeMs: f.captureTimeMs + Number(this.baseTimeNs! / 1000n) / 1000 };
  }
}
