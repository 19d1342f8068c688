import type { CodecParameters, EncodedFrame } from './types.js';
import { parseParameterSets, sameParameters } from './codec.js';

/** What a consumer does with a frame. Return a promise to say "busy until it settles" (backpressure). */
export type FrameHandler = (frame: EncodedFrame) => void | Promise<void>;

export interface ConsumerOptions {
  /** For statistics, e.g. `rtsp 127.0.0.1:51234`. */
  readonly name: string;
  readonly onFrame: FrameHandler;
  /** Frames that may wait while the handler is busy before the consumer drops to the next keyframe. */
  readonly maxQueue?: number;
  /**
   * How far behind (ms of stream time waiting in its queue) the consumer may fall before it drops to
   * the next keyframe. Default: the hub's lag budget (`setLagBudget`, from `streamLatencyMode`);
   * `null`: none. Internal consumers have none.
   */
  readonly lagBudgetMs?: number | null;
  /** Start with the cached GOP (from the last keyframe) instead of waiting for the next keyframe. */
  readonly startWithCachedGop?: boolean;
  /** Called with the error when the handler throws or rejects; the consumer keeps running. */
  readonly onError?: (err: unknown) => void;
  /** The daemon's own machinery (a shared packetiser, a monitor), not a client: left out of client statistics. */
  readonly internal?: boolean;
  /**
   * What the client negotiated, checked before it gets a frame of another format: called with the
   * stream's parameters at its first keyframe and whenever they change (a new codec, profile or
   * size after `videoEncoder` or `encoderProfile` changed). Return a reason to refuse them: the
   * consumer is then closed before that frame, and `onRejected` gets the reason. Without it, a
   * consumer takes whatever the stream carries.
   */
  readonly accept?: (params: CodecParameters) => string | undefined;
  /** Called once (after the current frame's delivery to others) when `accept` refused the stream's new parameters. */
  readonly onRejected?: (reason: string) => void;
}

export interface ConsumerStats {
  readonly name: string;
  readonly framesDelivered: number;
  readonly bytesDelivered: number;
  readonly framesDropped: number;
  readonly queued: number;
  readonly waitingForKeyframe: boolean;
  readonly connectedAt: number;
}

export interface Consumer {
  readonly stream: string;
  readonly stats: ConsumerStats;
  close(): void;
}

interface StreamSlot {
  consumers: Set<ConsumerImpl>;
  params?: CodecParameters;
  /** Frames from the last keyframe on (for snapshots and fast starts). */
  gop: EncodedFrame[];
  gopBytes: number;
  lastFrameAt?: number;
  paramWaiters: Array<(p: CodecParameters) => void>;
  frameWaiters: Array<(f: EncodedFrame) => void>;
  keyframeRequester?: () => void;
  /** Delivery delay (software alignment): frames reach consumers this long after they arrived. */
  delayMs: number;
  /** Running totals of what the stream's clients received since the daemon started (departed clients included). */
  delivered: { frames: number; bytes: number };
}

/** Running totals of one stream's client deliveries since start (internal consumers excluded). */
export interface StreamTotals {
  readonly framesDelivered: number;
  readonly bytesDelivered: number;
}

/**
 * With a lag budget, time decides when a consumer drops, not a frame count: frames are shared by
 * every consumer (a queue holds references, not copies), so a 2 s budget at 60 fps may hold 120
 * frames even when a transport asked for fewer. This cap is a safety bound on the queue's length.
 */
const BUDGET_QUEUE_CAP = 1024;

const MAX_GOP_BYTES = 16 * 1024 * 1024;

/**
 * One producer per stream, many consumers. Publishing never waits for a consumer: each consumer has
 * its own bounded queue, and one that falls behind drops frames up to the next keyframe (counted)
 * while everyone else keeps receiving every frame.
 */
export class StreamHub {
  private readonly slots = new Map<string, StreamSlot>();
  private lagBudgetMs: number | undefined;

  /**
   * The consumers' lag budget in ms (`streamLatencyMode`: low 100, normal 500, high 2000): a client
   * whose waiting frames span more than this drops them and resumes at the next keyframe. Applies
   * at once to connected consumers. `undefined`: only the frame count (`maxQueue`) bounds a queue.
   */
  setLagBudget(ms: number | undefined): void {
    this.lagBudgetMs = ms === undefined ? undefined : Math.max(0, ms);
  }

  get lagBudget(): number | undefined {
    return this.lagBudgetMs;
  }

  /** Called by the producer for each encoded access unit. */
  publish(frame: EncodedFrame): void {
    const slot = this.slot(frame.stream);
    slot.lastFrameAt = frame.receivedAt;
    if (frame.keyframe) {
      const p = parseParameterSets(frame);
      // Kept while unchanged: consumers compare by identity, and a JPEG stream has a keyframe per frame.
      if (p && !sameParameters(p, slot.params)) slot.params = p;
      if (p) for (const w of slot.paramWaiters.splice(0)) w(slot.params!);
      slot.gop = [];
      slot.gopBytes = 0;
    }
    if (slot.gopBytes + frame.data.length <= MAX_GOP_BYTES) {
      slot.gop.push(frame);
      slot.gopBytes += frame.data.length;
    }
    for (const w of slot.frameWaiters.splice(0)) w(frame);
    const params = slot.params;
    if (slot.delayMs > 0) {
      // Same delay for every frame of the stream: timers fire in publication order.
      setTimeout(() => {
        for (const c of slot.consumers) c.offer(frame, params);
      }, slot.delayMs);
      return;
    }
    for (const c of slot.consumers) c.offer(frame, params);
  }

  /**
   * Holds a stream's frames back before consumers get them, so that paired streams deliver frames of the
   * same capture time together (software alignment). 0 delivers at once.
   */
  setDeliveryDelay(stream: string, ms: number): void {
    this.slot(stream).delayMs = Math.max(0, Math.round(ms));
  }

  deliveryDelay(stream: string): number {
    return this.slots.get(stream)?.delayMs ?? 0;
  }

  /** Attaches a consumer. It receives frames from the next keyframe on (or from the cached GOP). */
  subscribe(stream: string, opts: ConsumerOptions): Consumer {
    const slot = this.slot(stream);
    const budget = opts.internal ? () => undefined : opts.lagBudgetMs !== undefined ? () => opts.lagBudgetMs ?? undefined : () => this.lagBudgetMs;
    const c = new ConsumerImpl(stream, opts, () => slot.consumers.delete(c), budget, opts.internal ? undefined : slot.delivered);
    slot.consumers.add(c);
    if (opts.startWithCachedGop && slot.gop.length > 0 && slot.gop[0]!.keyframe) {
      for (const f of slot.gop) c.offer(f, slot.params);
    }
    return c;
  }

  /** Codec parameters (SPS/PPS, size) of the stream, once a keyframe has been seen. */
  parameters(stream: string): CodecParameters | undefined {
    return this.slots.get(stream)?.params;
  }

  /** Waits for parameters (e.g. DESCRIBE right after start); rejects after `timeoutMs`. */
  waitForParameters(stream: string, timeoutMs = 5000): Promise<CodecParameters> {
    const slot = this.slot(stream);
    if (slot.params) return Promise.resolve(slot.params);
    return withTimeout(slot.paramWaiters, timeoutMs, `no keyframe from stream "${stream}" within ${timeoutMs} ms`);
  }

  /** Resolves with the next frame published on the stream. */
  nextFrame(stream: string, timeoutMs = 5000): Promise<EncodedFrame> {
    return withTimeout(this.slot(stream).frameWaiters, timeoutMs, `no frame from stream "${stream}" within ${timeoutMs} ms`);
  }

  /** Frames from the most recent keyframe up to the newest one. */
  currentGop(stream: string): readonly EncodedFrame[] {
    return this.slots.get(stream)?.gop ?? [];
  }

  /**
   * What the stream's clients received since the daemon started, including clients that have left
   * (`totalBytesStreamed` is a running total; `consumers()` only has the current ones).
   */
  totals(stream: string): StreamTotals {
    const d = this.slots.get(stream)?.delivered;
    return { framesDelivered: d?.frames ?? 0, bytesDelivered: d?.bytes ?? 0 };
  }

  lastFrameAt(stream: string): number | undefined {
    return this.slots.get(stream)?.lastFrameAt;
  }

  /** Statistics of the stream's clients (internal consumers excluded). */
  consumers(stream: string): ConsumerStats[] {
    return [...(this.slots.get(stream)?.consumers ?? [])].filter((c) => !c.internal).map((c) => c.stats);
  }

  /** The producer registers how to force a keyframe (consumers ask on join, PLI, FIR). */
  setKeyframeRequester(stream: string, fn: (() => void) | undefined): void {
    this.slot(stream).keyframeRequester = fn;
  }

  requestKeyframe(stream: string): void {
    this.slots.get(stream)?.keyframeRequester?.();
  }

  /** Forgets parameters after a pipeline rebuild that may change them (size, profile). */
  resetParameters(stream: string): void {
    const slot = this.slots.get(stream);
    if (slot) {
      slot.params = undefined;
      slot.gop = [];
      slot.gopBytes = 0;
    }
  }

  streams(): string[] {
    return [...this.slots.keys()];
  }

  private slot(stream: string): StreamSlot {
    let s = this.slots.get(stream);
    if (!s) {
      s = { consumers: new Set(), gop: [], gopBytes: 0, paramWaiters: [], frameWaiters: [], delayMs: 0, delivered: { frames: 0, bytes: 0 } };
      this.slots.set(stream, s);
    }
    return s;
  }
}

function withTimeout<T>(waiters: Array<(v: T) => void>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const w = (v: T) => {
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      const i = waiters.indexOf(w);
      if (i >= 0) waiters.splice(i, 1);
      reject(new Error(message));
    }, ms);
    waiters.push(w);
  });
}

class ConsumerImpl implements Consumer {
  private readonly queue: EncodedFrame[] = [];
  private busy = false;
  private waitingForKeyframe = true;
  private closed = false;
  private delivered = 0;
  private bytes = 0;
  private dropped = 0;
  private readonly maxQueue: number;
  private readonly connectedAt = Date.now();
  /** The parameters `accept` took last (it is asked again when the stream's parameters change). */
  private accepted?: CodecParameters;

  constructor(
    readonly stream: string,
    private readonly opts: ConsumerOptions,
    private readonly detach: () => void,
    private readonly lagBudget: () => number | undefined,
    private readonly totals?: { frames: number; bytes: number },
  ) {
    this.maxQueue = opts.maxQueue ?? 128;
  }

  get internal(): boolean {
    return this.opts.internal === true;
  }

  get stats(): ConsumerStats {
    return {
      name: this.opts.name,
      framesDelivered: this.delivered,
      bytesDelivered: this.bytes,
      framesDropped: this.dropped,
      queued: this.queue.length,
      waitingForKeyframe: this.waitingForKeyframe,
      connectedAt: this.connectedAt,
    };
  }

  offer(frame: EncodedFrame, params: CodecParameters | undefined): void {
    if (this.closed) return;
    if (this.opts.accept && !this.acceptable(frame, params)) return;
    if (this.waitingForKeyframe) {
      if (!frame.keyframe) {
        if (this.delivered > 0) this.dropped++;
        return;
      }
      this.waitingForKeyframe = false;
    }
    if (!this.busy) {
      this.run(frame);
      return;
    }
    const budget = this.lagBudget();
    const behindMs = this.queue.length > 0 ? frame.receivedAt - this.queue[0]!.receivedAt : 0;
    const cap = budget === undefined ? this.maxQueue : Math.max(this.maxQueue, BUDGET_QUEUE_CAP);
    if (this.queue.length >= cap || (budget !== undefined && behindMs > budget)) {
      // Too far behind: everything queued is stale. Skip to the next keyframe so the decoder
      // never sees a frame whose references it missed.
      this.dropped += this.queue.length + (frame.keyframe ? 0 : 1);
      this.queue.length = 0;
      this.waitingForKeyframe = !frame.keyframe;
      if (frame.keyframe) this.queue.push(frame);
      return;
    }
    this.queue.push(frame);
  }

  /**
   * Checks the stream's format against what the client negotiated before handing it a frame: at a
   * keyframe with new parameters, and on any frame of another codec (a frame never reaches a client
   * that cannot decode it, whatever came first after a rebuild).
   */
  private acceptable(frame: EncodedFrame, params: CodecParameters | undefined): boolean {
    const known = this.accepted;
    // Parameters change only at keyframes; a delta frame of the accepted codec is what was accepted.
    if (known && known.codec === frame.codec && (!frame.keyframe || params === known || params === undefined)) return true;
    // A frame of a codec the parameters do not describe yet is judged by its codec and size alone.
    const now: CodecParameters = params && params.codec === frame.codec ? params : { codec: frame.codec, width: frame.width, height: frame.height, fps: 0 };
    const reason = this.opts.accept!(now);
    if (reason === undefined) {
      if (frame.keyframe || !known) this.accepted = now;
      return true;
    }
    this.close();
    const cb = this.opts.onRejected;
    if (cb) queueMicrotask(() => cb(reason));
    return false;
  }

  private run(frame: EncodedFrame): void {
    let result: void | Promise<void>;
    try {
      result = this.opts.onFrame(frame);
    } catch (err) {
      this.opts.onError?.(err);
      return;
    }
    this.delivered++;
    this.bytes += frame.data.length;
    if (this.totals) {
      this.totals.frames++;
      this.totals.bytes += frame.data.length;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      this.busy = true;
      (result as Promise<void>).then(
        () => this.next(),
        (err) => {
          this.opts.onError?.(err);
          this.next();
        },
      );
    }
  }

  private next(): void {
    this.busy = false;
    while (!this.busy && !this.closed) {
      const f = this.queue.shift();
      if (!f) return;
      this.run(f);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.detach();
  }
}
