import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StartProperty } from '../types.js';
import { GdpReader, parseCaps, parseSegment, FLAG_DELTA_UNIT } from './gdp.js';
import { MEDIA_HEADER_PREFIX, type FromMediaProcess, type PropertyValue, type ToMediaProcess } from './protocol.js';
import { childEntry } from './worker-path.js';

/** One access unit out of the encoder, before it becomes an EncodedFrame. */
export interface RawFrame {
  data: Buffer;
  keyframe: boolean;
  /** Capture time on the wall clock, ms since the epoch. */
  captureTimeMs: number;
  width?: number;
  height?: number;
}

export interface PipelineEvents {
  frame: [RawFrame];
  playing: [];
  /** GStreamer's error (not named `error`: an EventEmitter throws an `error` nobody listens to). */
  gstError: [{ message: string; debug?: string; source?: string }];
  warning: [{ message: string; source?: string }];
  /** The pipeline is gone: `code` 0 after a stop or end of stream, 1 after an error; `signal` when the media process died. */
  exit: [{ code: number | null; signal: NodeJS.Signals | null }];
}

/** Every live media process of this daemon, so that an exiting daemon takes them along. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * V8 flags of the media process. Its JavaScript only controls pipelines (a few calls a second), so it
 * needs no JIT, a tiny young generation and one GC thread: measured with node-gtk and GStreamer
 * loaded, PSS 30 MiB with Node's defaults, 19 MiB with these.
 */
const MEDIA_PROCESS_V8 = ['--jitless', '--max-semi-space-size=1', '--v8-pool-size=1', '--single-threaded-gc', '--max-old-space-size=64'];
/** A pipeline that does not reach NULL within this time has wedged its process: the process is killed. */
const STOP_GRACE_MS = 3000;

let socketCount = 0;

/**
 * The daemon's environment without its malloc tuning (bin/camd.js): fit for Node's many small buffers,
 * it would cost GStreamer dearly, whose multi-MiB raw frames must come from reused heap memory, not a
 * fresh mmap and page faults each (measured: about +0.1 cores at 1080p60), from many streaming threads.
 */
function mediaEnv(): NodeJS.ProcessEnv {
  const { MALLOC_ARENA_MAX: _arenas, MALLOC_MMAP_THRESHOLD_: _mmap, ...env } = process.env;
  return env;
}

/**
 * The daemon's side of one media process (media-host): spawns it on first use, starts pipelines in
 * it, routes their control messages and media connections, and reports every pipeline as ended when
 * the process dies. Restart policy lives in the callers (each pipeline's supervisor): after a crash,
 * the next `start` spawns a fresh process.
 */
export class MediaProcess {
  private child?: ChildProcess;
  private server?: Server;
  private readonly socketPath = join(tmpdir(), `camd-${process.pid}-media${++socketCount}.sock`);
  private readonly pipelines = new Map<string, MediaPipeline>();
  private nextId = 1;
  private nextReq = 1;
  private readonly replies = new Map<number, { resolve: (value?: PropertyValue) => void; reject: (e: Error) => void }>();
  private stderr = '';

  constructor(
    private readonly opts: {
      onSpawn?: (pid: number) => void;
      onExit?: (info: { code: number | null; signal: NodeJS.Signals | null; detail?: string }) => void;
    } = {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Pipelines running in this process now. */
  get size(): number {
    return this.pipelines.size;
  }

  /** Starts a pipeline; with `output`, its launch text ends in `fdsink name=camd_media_out` and frames arrive as `frame` events. */
  start(launch: string, opts: { startProperties?: readonly StartProperty[]; output: boolean; role?: string }): MediaPipeline {
    this.ensureRunning();
    const id = `p${this.nextId++}`;
    const p = new MediaPipeline(id, this);
    this.pipelines.set(id, p);
    this.send({ type: 'start', id, launch, startProperties: opts.startProperties ?? [], output: opts.output, role: opts.role });
    return p;
  }

  /** Stops the process and every pipeline in it (daemon shutdown). */
  async close(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    this.server?.close();
    this.server = undefined;
    rmSync(this.socketPath, { force: true });
  }

  /** SIGKILLs the process, as a crash would (tests, fault drills). */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** @internal */
  send(msg: ToMediaProcess): void {
    const child = this.child;
    if (!child?.connected) return;
    child.send(msg, (err) => {
      if (err && 'id' in msg) this.pipelines.get(msg.id)?.emit('warning', { message: `could not reach the media process: ${err.message}` });
    });
  }

  /** @internal */
  request(
    msg: Omit<Extract<ToMediaProcess, { type: 'set' }>, 'req'> | Omit<Extract<ToMediaProcess, { type: 'get' }>, 'req'>,
  ): Promise<PropertyValue | undefined> {
    if (!this.running) return Promise.reject(new Error('the pipeline is not running'));
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.replies.set(req, { resolve, reject });
      this.send({ ...msg, req } as ToMediaProcess);
    });
  }

  /** @internal A pipeline that ended or was stopped leaves the routing table. */
  forget(id: string): void {
    this.pipelines.delete(id);
  }

  private ensureRunning(): void {
    if (this.running) return;
    this.server ??= this.listen();
    const entry = childEntry('media-host');
    const child = fork(entry.path, ['run', this.socketPath], {
      execArgv: [...entry.execArgv, ...MEDIA_PROCESS_V8],
      env: mediaEnv(),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    this.stderr = '';
    live.add(child);
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    child.on('message', (m: FromMediaProcess) => this.onMessage(m));
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (this.child !== child) return;
      this.child = undefined;
      for (const r of this.replies.values()) r.reject(new Error('the media process exited'));
      this.replies.clear();
      const detail = code !== 0 && signal === null ? lastErrorLine(this.stderr) : undefined;
      this.opts.onExit?.({ code, signal, detail });
      const orphans = [...this.pipelines.values()];
      this.pipelines.clear();
      for (const p of orphans) {
        if (detail) p.emit('warning', { message: detail, source: 'media process stderr' });
        p.ended({ code, signal });
      }
    });
    if (child.pid) this.opts.onSpawn?.(child.pid);
  }

  /** The media socket: each pipeline run connects once, names itself, then streams GDP. */
  private listen(): Server {
    rmSync(this.socketPath, { force: true });
    const server = createServer((socket) => this.onConnection(socket));
    server.listen(this.socketPath);
    server.unref();
    return server;
  }

  private onConnection(socket: Socket): void {
    let head = Buffer.alloc(0);
    let pipeline: MediaPipeline | undefined;
    socket.on('error', () => undefined);
    socket.on('close', () => pipeline?.mediaClosed());
    socket.on('data', (chunk: Buffer) => {
      if (pipeline) return pipeline.onMedia(chunk);
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > 64) socket.destroy();
        return;
      }
      const line = head.subarray(0, nl).toString('latin1');
      const id = line.startsWith(MEDIA_HEADER_PREFIX) ? line.slice(MEDIA_HEADER_PREFIX.length) : '';
      pipeline = this.pipelines.get(id);
      // A pipeline stopped before its connection arrived: nothing wants this stream.
      if (!pipeline) return void socket.destroy();
      const rest = head.subarray(nl + 1);
      if (rest.length) pipeline.onMedia(rest);
    });
  }

  private onMessage(m: FromMediaProcess): void {
    if (m.type === 'reply') {
      const r = this.replies.get(m.req);
      this.replies.delete(m.req);
      if (r) m.ok ? r.resolve(m.value) : r.reject(new Error(m.error ?? 'failed'));
      return;
    }
    if (!('id' in m)) return; // one-shot answers (inspect, caps, probe) are not for a running pipeline
    const p = this.pipelines.get(m.id);
    if (!p) return;
    switch (m.type) {
      case 'starting':
        p.started(BigInt(m.baseTimeNs));
        break;
      case 'playing':
        p.emit('playing');
        break;
      case 'error':
        p.emit('gstError', m);
        break;
      case 'warning':
        p.emit('warning', m);
        break;
      case 'ended':
        this.pipelines.delete(m.id);
        p.ended({ code: m.code, signal: null });
        break;
    }
  }
}

/** The error line of a crashed process's stderr says what happened; the stack tail does not. */
function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr.trim().split('\n').filter(Boolean);
  if (lines.length === 0) return undefined;
  return (lines.find((l) => /Error|CRITICAL|assert/i.test(l)) ?? lines.at(-1)!).trim();
}

/**
 * One pipeline in a media process: turns its GDP media stream into frames with wall-clock capture
 * times, and forwards control calls.
 */
export class MediaPipeline extends EventEmitter<PipelineEvents> {
  private readonly reader = new GdpReader();
  private baseTimeNs: bigint | undefined;
  /** The base time in ms, added to every frame's running time. */
  private baseMs = 0;
  private corrupt = false;
  private segment = { start: 0n, base: 0n };
  private caps: { width?: number; height?: number } = {};
  private pending: RawFrame[] = [];
  private exited = false;
  private endTimer?: NodeJS.Timeout;
  private readonly exitedPromise: Promise<void>;
  private resolveExited!: () => void;

  /** @internal */
  constructor(
    readonly id: string,
    private readonly host: MediaProcess,
  ) {
    super();
    this.exitedPromise = new Promise((r) => (this.resolveExited = r));
  }

  /** Pipeline base time on the realtime clock, ns since the epoch (once it started). */
  get baseTime(): bigint {
    return this.baseTimeNs ?? 0n;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The media process's pid (shared by every pipeline in it). */
  get pid(): number | undefined {
    return this.host.pid;
  }

  async setProperty(element: string, property: string, value: PropertyValue, pad?: string): Promise<void> {
    if (this.exited) throw new Error('the pipeline is not running');
    await this.host.request({ type: 'set', id: this.id, element, pad, property, value });
  }

  /** Reads a property of a named element (a GstStructure as its text): diagnostics and tests. */
  getProperty(element: string, property: string): Promise<PropertyValue | undefined> {
    if (this.exited) return Promise.reject(new Error('the pipeline is not running'));
    return this.host.request({ type: 'get', id: this.id, element, property });
  }

  requestKeyframe(): void {
    if (!this.exited) this.host.send({ type: 'keyframe', id: this.id });
  }

  /**
   * Fails the pipeline as a GStreamer error would: it ends with code 1 and the caller's restart policy
   * runs. A pipeline that cannot even be torn down has wedged its process, which is then killed.
   */
  fail(message: string): void {
    if (this.exited) return;
    this.host.send({ type: 'fail', id: this.id, message });
    this.endWithin(STOP_GRACE_MS);
  }

  /** Stops the pipeline; if it has not ended within the grace time the media process is wedged and is killed. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.exited) return;
    this.host.send({ type: 'stop', id: this.id });
    this.endWithin(graceMs);
    await this.exitedPromise;
  }

  /**
   * GStreamer tears a pipeline down on the media process's main thread; an element that never lets go
   * of its streaming thread blocks that thread, and with it every pipeline's control. Killing the
   * process is the only way out: every pipeline then restarts with backoff.
   */
  private endWithin(ms: number): void {
    if (this.endTimer) return;
    this.endTimer = setTimeout(() => {
      if (!this.exited) {
        this.emit('warning', { message: `the pipeline did not stop within ${ms} ms; restarting the media process` });
        this.host.kill();
      }
    }, ms);
    this.endTimer.unref();
  }

  /** @internal */
  started(baseTimeNs: bigint): void {
    this.baseTimeNs = baseTimeNs;
    this.baseMs = Number(baseTimeNs / 1000n) / 1000;
    for (const f of this.pending.splice(0)) this.emitFrame(f);
  }

  /** @internal */
  ended(info: { code: number | null; signal: NodeJS.Signals | null }): void {
    if (this.exited) return;
    this.exited = true;
    clearTimeout(this.endTimer);
    this.host.forget(this.id);
    this.resolveExited();
    this.emit('exit', info);
  }

  /** @internal The pipeline's media connection closed (it stopped, or its process died). */
  mediaClosed(): void {
    this.pending = [];
  }

  /** @internal */
  onMedia(chunk: Buffer): void {
    if (this.exited || this.corrupt) return;
    let packets;
    try {
      packets = this.reader.push(chunk);
    } catch (err) {
      // Framing is lost: nothing more of this run can be trusted; the pipeline is failed once.
      this.corrupt = true;
      this.emit('gstError', { message: `corrupt media stream from the pipeline: ${(err as Error).message}` });
      this.fail('corrupt media stream');
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
        else this.emitFrame(frame);
      }
    }
  }

  /** Running time → wall-clock capture time (base time + running time), then out. */
  private emitFrame(f: RawFrame): void {
    f.captureTimeMs += this.baseMs;
    this.emit('frame', f);
  }
}
