import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Caller, Consumer, EncodedFrame, StreamHub, StreamPackets } from '@camd/core';
import type { Transport } from './transport-header.js';

export interface SessionSink {
  /** The TCP connection that carries interleaved data (and owns the session). */
  socket?: Socket;
  sendUdp(packet: Buffer, port: number, address: string): void;
}

/** Server-added latency samples (µs): frame received from the encoder → its last packet handed to the socket. */
export class LatencySamples {
  private readonly buf = new Float64Array(4096);
  private n = 0;
  add(us: number): void {
    this.buf[this.n++ % this.buf.length] = us;
  }
  percentiles(): { p50: number; p99: number; samples: number } | null {
    const len = Math.min(this.n, this.buf.length);
    if (len === 0) return null;
    const s = Array.from(this.buf.subarray(0, len)).sort((a, b) => a - b);
    return { p50: Math.round(s[Math.floor(len * 0.5)]!), p99: Math.round(s[Math.min(len - 1, Math.floor(len * 0.99))]!), samples: this.n };
  }
}

export interface SessionLimits {
  /** Frames a reader may be behind before it drops to the next keyframe. */
  maxQueue: number;
  /** Bytes unsent in the socket before the reader counts as busy. */
  highWater: number;
  /** A reader whose socket does not drain for this long is disconnected. */
  stallMs: number;
}

/** One RTSP session: a reader of one stream, with its transport and its own view of the hub. */
export class RtspSession {
  readonly id = randomBytes(8).toString('hex');
  readonly createdAt = Date.now();
  state: 'init' | 'ready' | 'playing' = 'init';
  transport?: Transport;
  lastSeen = Date.now();
  packets = 0;
  bytes = 0;
  private consumer?: Consumer;
  private stallTimer?: NodeJS.Timeout;
  onStall?: () => void;

  constructor(
    readonly stream: string,
    readonly caller: Caller,
    /** The connection that created it. */
    readonly ownerId: string,
    readonly remoteAddress: string,
    private readonly sink: SessionSink,
    private readonly latency?: LatencySamples,
  ) {}

  get framesDropped(): number {
    return this.consumer?.stats.framesDropped ?? 0;
  }

  touch(): void {
    this.lastSeen = Date.now();
  }

  play(hub: StreamHub, packets: StreamPackets, limits: SessionLimits): void {
    if (this.state === 'playing') return;
    this.state = 'playing';
    this.consumer = hub.subscribe(this.stream, {
      name: `rtsp ${this.remoteAddress} ${this.caller.username}`,
      maxQueue: limits.maxQueue,
      onFrame: (f) => this.send(f, packets, limits),
    });
    hub.requestKeyframe(this.stream);
  }

  pause(): void {
    this.consumer?.close();
    this.consumer = undefined;
    clearTimeout(this.stallTimer);
    if (this.state === 'playing') this.state = 'ready';
  }

  close(): void {
    this.pause();
    this.state = 'init';
  }

  private send(frame: EncodedFrame, packets: StreamPackets, limits: SessionLimits): void | Promise<void> {
    const list = packets.packetsOf(frame);
    const t = this.transport!;
    if (t.kind === 'udp') {
      for (const p of list) this.sink.sendUdp(p, t.rtpPort, t.address);
      this.count(list);
      this.latency?.add((performance.now() - frame.receivedAt) * 1000);
      return;
    }
    const socket = this.sink.socket;
    if (!socket || socket.destroyed) return;
    socket.cork();
    for (const p of list) {
      const head = Buffer.allocUnsafe(4);
      head[0] = 0x24;
      head[1] = t.rtpChannel;
      head.writeUInt16BE(p.length, 2);
      socket.write(head);
      socket.write(p);
    }
    socket.uncork();
    this.count(list);
    this.latency?.add((performance.now() - frame.receivedAt) * 1000);
    if (socket.writableLength <= limits.highWater) return;
    // The reader is behind: the hub queues (then drops to the next keyframe) until the socket drains.
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(this.stallTimer);
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.once('drain', done);
      socket.once('close', done);
      this.stallTimer = setTimeout(() => {
        done();
        this.onStall?.();
      }, limits.stallMs);
    });
  }

  private count(list: Buffer[]): void {
    this.packets += list.length;
    for (const p of list) this.bytes += p.length;
  }
}
