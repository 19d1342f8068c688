import {
  acquireStreamPackets,
  CODEC_LABEL,
  RestartSupervisor,
  type CodecParameters,
  type Consumer,
  type EncodedFrame,
  type Logger,
  type StreamHub,
  type StreamPacketsLease,
  type FrameCodec,
} from '@camd/core';
import { muxCodecRefusal, MuxChildSink, MUX_PARSERS } from './mux-child.js';
import { RtspRecordSink } from './rtsp-record.js';
import { PublishError, type PublishSink } from './sink.js';
import { conceal, scrub, type ParsedTarget } from './targets.js';

/**
 * - `waiting`: the stream has no keyframe yet (its pipeline is starting or restarting);
 * - `connecting`: talking to the server (RTSP ANNOUNCE/SETUP/RECORD, or a muxer child starting);
 * - `publishing`: the server takes the stream;
 * - `stalled`: publishing, but the server has taken no data for a second (frames queue, then drop
 *   to the next keyframe; after `stallMs` the connection is dropped and retried);
 * - `backoff`: failed, retrying after 1, 2, 5, 10, then every 30 s;
 * - `unsupported`: the stream's codec cannot travel over this protocol (RTMP: anything but H.264;
 *   SRT: MJPEG), or its parser is missing; `lastError` says which. No connection is attempted: the
 *   target waits, without retries, for the stream's codec to change, then connects by itself;
 * - `invalid`: cannot work as configured (no such stream, a GStreamer element missing); not retried;
 * - `stopped`: removed or the daemon stops.
 */
export type TargetState = 'waiting' | 'connecting' | 'publishing' | 'stalled' | 'backoff' | 'unsupported' | 'invalid' | 'stopped';

/** What `/api/stats` shows of a target (under the stream, `publish.targets[]`; Media_r). */
export interface TargetStats {
  /** What health checks, metrics and logs call it: its `name`, else `#<position>`. */
  name: string;
  /** The URL with its password, passphrase, stream id and RTMP stream key masked. */
  url: string;
  protocol: string;
  transport?: 'tcp' | 'udp';
  state: TargetState;
  /** The codec the server was told (or, `unsupported`, the one it cannot carry); null before the stream's first keyframe. */
  codec: FrameCodec | null;
  bytesSent: number;
  /** bit/s over the last second. */
  bitrate: number;
  framesSent: number;
  framesDropped: number;
  reconnects: number;
  errors: number;
  lastError: string | null;
  connectedSince: string | null;
  retryInMs: number | null;
}

export interface PublishTargetOptions {
  readonly target: ParsedTarget;
  /** Its name in health checks and logs (`targetLabel`): never the URL. */
  readonly label: string;
  readonly hub: StreamHub;
  readonly log: Logger;
  /** Frames that may wait for a busy connection before the target drops to the next keyframe. */
  readonly maxQueue: number;
  readonly timeoutMs: number;
  /** A connection that takes no data for this long is dropped and retried. */
  readonly stallMs: number;
  /** How long a muxer child must run before it counts as connected. */
  readonly confirmMs: number;
  /** Set when the target cannot work (no such stream, elements missing): reported, never retried. */
  readonly invalid?: string;
  /** Why GStreamer elements are unusable here (the codec's parser for RTMP/SRT), undefined when all are present. */
  readonly missingElements?: (factories: readonly string[]) => string | undefined;
}

/** A cached GOP whose keyframe is older than this would reach the server as a burst of stale frames. */
const FRESH_GOP_MS = 1000;
/** Publishing but blocked this long shows as `stalled`. */
const STALLED_AFTER_MS = 1000;

/**
 * One target: a hub consumer with its own bounded queue feeding one connection, supervised with
 * core's restart backoff. Nothing it does can slow the encoder or another client: a full queue
 * drops to the next keyframe (counted), a dead server only costs this target its retries.
 */
export class PublishTarget {
  private state: TargetState = 'waiting';
  private sink?: PublishSink;
  private consumer?: Consumer;
  /** While `unsupported`: the consumer that watches for a codec this protocol carries. */
  private watcher?: Consumer;
  private lease?: StreamPacketsLease;
  private generation = 0;
  private bytesBefore = 0;
  private framesSent = 0;
  private droppedBefore = 0;
  private connectedAt?: number;
  private blockedSince?: number;
  private retryAt?: number;
  private lastError: string | null = null;
  /** `lastError` as health checks and logs may show it (see `conceal`). */
  private lastErrorShown: string | null = null;
  private label: string;
  private codec: FrameCodec | null = null;
  private rate = { at: Date.now(), bytes: 0, bitrate: 0 };
  private readonly supervisor: RestartSupervisor;

  constructor(private readonly o: PublishTargetOptions) {
    this.label = o.label;
    this.supervisor = new RestartSupervisor(
      () => void this.connect(),
      ({ message, retryInMs }) => {
        this.retryAt = Date.now() + retryInMs;
        // Only `failed` reports to the supervisor, with a server's or a child's text.
        this.o.log.warn(this.logFields({ retryInMs }), `publish: ${conceal(message, o.target)}; retrying in ${retryInMs / 1000} s`);
      },
    );
  }

  get target(): ParsedTarget {
    return this.o.target;
  }

  /** What health checks and logs call the target (its name, or its position, which a change of the list may move). */
  get name(): string {
    return this.label;
  }

  set name(label: string) {
    this.label = label;
  }

  /** Log fields: the stream and the target's name, never its URL. */
  private logFields(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { stream: this.o.target.stream, target: this.label, ...extra };
  }

  /** Sets `lastError`; `external` text (a server's or a child's) is concealed for health and logs. */
  private setError(text: string | null, external = false): void {
    this.lastError = text;
    this.lastErrorShown = text !== null && external ? conceal(text, this.o.target) : text;
  }

  start(): void {
    if (this.o.invalid) {
      this.state = 'invalid';
      this.setError(this.o.invalid);
      this.o.log.error(this.logFields(), `publish: ${this.o.invalid}`);
      return;
    }
    this.supervisor.start();
    void this.connect();
  }

  async stop(): Promise<void> {
    this.supervisor.stop();
    this.generation++;
    this.state = 'stopped';
    await this.teardown();
    this.lease?.release();
    this.lease = undefined;
  }

  stats(): TargetStats {
    const st = this.supervisor.stats();
    const sent = this.bytesSent();
    return {
      name: this.label,
      url: this.o.target.display,
      protocol: this.o.target.protocol,
      ...(this.o.target.protocol === 'rtsp' ? { transport: this.o.target.transport } : {}),
      state: this.currentState(),
      codec: this.codec,
      bytesSent: sent,
      bitrate: this.rate.bitrate,
      framesSent: this.framesSent,
      framesDropped: this.droppedBefore + (this.consumer?.stats.framesDropped ?? 0),
      reconnects: st.restarts,
      errors: st.errors,
      lastError: this.lastError,
      connectedSince: this.connectedAt !== undefined && this.state === 'publishing' ? new Date(this.connectedAt).toISOString() : null,
      retryInMs: this.state === 'backoff' && this.retryAt !== undefined ? Math.max(0, this.retryAt - Date.now()) : null,
    };
  }

  /**
   * Healthy while publishing, and while a first connection is under way; unhealthy after a failure
   * and while the stream's codec cannot travel over the protocol (`unsupported`: nothing is sent).
   * The detail names no host, user, path or query of the target (see `conceal`).
   */
  health(): { healthy: boolean; detail?: string } {
    const s = this.currentState();
    if (s === 'publishing') return { healthy: true };
    if ((s === 'waiting' || s === 'connecting') && this.supervisor.stats().errors === 0) return { healthy: true, detail: s };
    return { healthy: false, detail: this.lastErrorShown ?? s };
  }

  /** Updates the bitrate figure (called every second). */
  sample(now = Date.now()): void {
    const bytes = this.bytesSent();
    const dt = now - this.rate.at;
    if (dt <= 0) return;
    this.rate = { at: now, bytes, bitrate: Math.max(0, Math.round(((bytes - this.rate.bytes) * 8 * 1000) / dt)) };
  }

  private bytesSent(): number {
    return this.bytesBefore + (this.sink?.bytesSent ?? 0);
  }

  private currentState(): TargetState {
    if (this.state === 'publishing' && this.blockedSince !== undefined && Date.now() - this.blockedSince >= STALLED_AFTER_MS) return 'stalled';
    return this.state;
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    const { target, hub } = this.o;
    this.retryAt = undefined;
    try {
      this.state = 'waiting';
      // A stream that is starting or restarting is not a failure of the target: wait, uncounted.
      let params: CodecParameters | undefined;
      while (!params) {
        params = await hub.waitForParameters(target.stream, this.o.timeoutMs).catch(() => undefined);
        if (gen !== this.generation) return;
      }
      this.codec = params.codec;
      const refusal = this.codecRefusal(params.codec);
      if (refusal) {
        this.unsupported(gen, refusal);
        return;
      }
      this.state = 'connecting';
      let sink: PublishSink;
      if (target.protocol === 'rtsp') {
        this.lease ??= acquireStreamPackets(hub, target.stream);
        sink = new RtspRecordSink({ target, params, packets: this.lease.packets, timeoutMs: this.o.timeoutMs });
      } else {
        sink = new MuxChildSink({ target, codec: params.codec, confirmMs: this.o.confirmMs, timeoutMs: this.o.timeoutMs });
      }
      this.sink = sink;
      sink.onFailure = (err) => this.failed(gen, err);
      await sink.open();
      if (gen !== this.generation) {
        await sink.close();
        return;
      }
      this.subscribe(gen, sink, params);
      if (sink.confirmed) void sink.confirmed.then(() => gen === this.generation && this.publishing());
      else this.publishing();
    } catch (err) {
      this.failed(gen, err);
    }
  }

  /** Why this target cannot carry `codec` (undefined when it can): RTSP takes every codec core packetises. */
  private codecRefusal(codec: CodecParameters['codec']): string | undefined {
    const { protocol, stream } = this.o.target;
    if (protocol === 'rtsp') return undefined;
    const refusal = muxCodecRefusal(protocol, codec, stream);
    if (refusal) return refusal;
    const missing = this.o.missingElements?.([MUX_PARSERS[protocol][codec]!]);
    return missing && `${missing}: ${protocol.toUpperCase()} cannot carry ${stream}'s ${CODEC_LABEL[codec]}`;
  }

  /**
   * The stream's codec does not fit the protocol: say so (state and `lastError`) and wait, without
   * retrying, for a keyframe of a codec it carries; then connect at once. Not a failure of the
   * server, so the backoff is not involved and nothing is counted.
   */
  private unsupported(gen: number, reason: string): void {
    const { hub, target } = this.o;
    if (this.state !== 'unsupported' || this.lastError !== reason) {
      this.o.log.warn(this.logFields(), `publish: ${reason}; waiting for the stream's codec to change`);
    }
    this.state = 'unsupported';
    this.setError(reason);
    this.connectedAt = undefined;
    this.watcher?.close();
    const watcher = hub.subscribe(target.stream, {
      name: `publish ${target.stream} ${this.label} (codec watch)`,
      internal: true,
      maxQueue: 1,
      onFrame: (frame) => {
        if (gen !== this.generation || this.watcher !== watcher) return;
        if (!frame.keyframe || this.codecRefusal(frame.codec)) return;
        watcher.close();
        this.watcher = undefined;
        this.o.log.info(this.logFields(), `publish: ${target.stream} is ${CODEC_LABEL[frame.codec]} again; connecting`);
        void this.connect();
      },
    });
    this.watcher = watcher;
    // The codec may have changed back while this target looked: a keyframe that passed meanwhile is not waited for.
    const now = hub.parameters(target.stream);
    if (now && !this.codecRefusal(now.codec)) {
      watcher.close();
      this.watcher = undefined;
      queueMicrotask(() => gen === this.generation && this.state === 'unsupported' && void this.connect());
    }
  }

  private publishing(): void {
    this.state = 'publishing';
    this.connectedAt = Date.now();
    this.setError(null);
    this.o.log.info(this.logFields(), 'publish: the server takes the stream');
  }

  private subscribe(gen: number, sink: PublishSink, params: CodecParameters): void {
    const { hub, target } = this.o;
    const gop = hub.currentGop(target.stream);
    // Start at a keyframe: the cached GOP when it is fresh, otherwise the encoder's next one (asked
    // for now) rather than seconds of old frames that the server's readers would buffer as delay.
    const fresh = gop.length > 0 && gop[0]!.keyframe && performance.now() - gop[0]!.receivedAt < FRESH_GOP_MS;
    if (!fresh) hub.requestKeyframe(target.stream);
    this.consumer = hub.subscribe(target.stream, {
      name: `publish ${target.stream} ${this.label}`,
      maxQueue: this.o.maxQueue,
      startWithCachedGop: fresh,
      // The server was told this format (SDP, FLV/TS headers, the child's parser): a frame of another
      // codec or picture size (the pipeline was rebuilt after `videoEncoder` or `streamResolution`
      // changed) never reaches it. The hub closes this consumer before such a frame instead, and the
      // stream is announced again, at once and without counting a failure (or, in a codec the
      // protocol cannot carry, the target says so and waits).
      accept: (p) => (p.codec === params.codec && p.width === params.width && p.height === params.height ? undefined : this.changed(params, p)),
      onRejected: (reason) => this.reannounce(gen, reason),
      onFrame: (frame) => this.onFrame(gen, sink, frame),
      onError: (err) => this.failed(gen, err),
    });
  }

  private changed(was: CodecParameters, now: CodecParameters): string {
    if (was.codec !== now.codec) return `the codec changed from ${CODEC_LABEL[was.codec]} to ${CODEC_LABEL[now.codec]}`;
    return `the picture size changed from ${was.width}x${was.height} to ${now.width}x${now.height}`;
  }

  private reannounce(gen: number, reason: string): void {
    if (gen !== this.generation || this.state === 'stopped') return;
    this.o.log.info(this.logFields(), `publish: ${reason}; announcing the stream again`);
    this.generation++;
    void this.teardown().then(() => {
      if (this.state !== 'stopped') void this.connect();
    });
  }

  private onFrame(gen: number, sink: PublishSink, frame: EncodedFrame): void | Promise<void> {
    if (gen !== this.generation) return;
    const ok = sink.write(frame);
    this.framesSent++;
    if (this.state === 'publishing') this.supervisor.running(Date.now() - this.connectedAt!);
    if (ok) return;
    // Busy until the connection drains: the hub queues this target's frames meanwhile, and drops
    // to the next keyframe when `maxQueue` is reached. A server that takes nothing for `stallMs`
    // is given up on.
    this.blockedSince = Date.now();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.failed(gen, new PublishError('stalled', `the server took no data for ${this.o.stallMs} ms`));
        resolve();
      }, this.o.stallMs);
      void sink.drained().then(() => {
        clearTimeout(timer);
        this.blockedSince = undefined;
        resolve();
      });
    });
  }

  private failed(gen: number, err: unknown): void {
    if (gen !== this.generation || this.state === 'stopped') return;
    this.generation++;
    const message = err instanceof PublishError ? err.message : scrub(err instanceof Error ? err.message : String(err), this.o.target.secrets);
    this.setError(message, true);
    this.state = 'backoff';
    void this.teardown();
    this.supervisor.failed(message);
  }

  private async teardown(): Promise<void> {
    const consumer = this.consumer;
    const sink = this.sink;
    this.watcher?.close();
    this.watcher = undefined;
    this.consumer = undefined;
    this.sink = undefined;
    this.blockedSince = undefined;
    this.connectedAt = undefined;
    if (consumer) {
      this.droppedBefore += consumer.stats.framesDropped;
      consumer.close();
    }
    if (sink) {
      this.bytesBefore += sink.bytesSent;
      await sink.close().catch(() => undefined);
    }
  }
}
