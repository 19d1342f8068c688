import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { CODEC_LABEL, RTP_HEADER, type Caller, type CodecParameters, type Consumer, type EncodedFrame, type StreamHub, type StreamPackets } from '@camd/core';
import type { Transport } from './transport-header.js';

/** Where a session's packets go: its connection's socket (interleaved), or the server's UDP pair. */
export interface SessionSink {
  /** The TCP connection that carries interleaved data (and owns the session). */
  socket?: Socket;
  sendUdp(packet: Buffer, port: number, address: string): void;
  sendUdpRtcp(packet: Buffer, port: number, address: string): void;
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

/** RFC 2326 Appendix A's server states, and `closed` after TEARDOWN (or a timeout, BYE, lost connection). */
export type SessionState = 'init' | 'ready' | 'playing' | 'closed';

/** What the server learns from its sessions. The server never changes a session's state itself. */
export interface SessionEvents {
  /** The first PLAY: the session became a client of its stream. */
  started(s: RtspSession): void;
  /** The session ended, once; `started`: whether it had been reported as started. */
  closed(s: RtspSession, reason: string, started: boolean): void;
  /** Its socket did not drain for `limits.stallMs`. */
  stalled(s: RtspSession): void;
  /** The stream now carries a codec the session did not negotiate: the server ends it with `reason`. */
  rejected(s: RtspSession, reason: string): void;
}

export interface SessionOptions {
  stream: string;
  caller: Caller;
  /** The connection that creates it. */
  ownerId: string;
  remoteAddress: string;
  hub: Pick<StreamHub, 'subscribe' | 'requestKeyframe'>;
  /** The stream's shared packets. */
  packets: Pick<StreamPackets, 'packetsOf' | 'ssrc'>;
  limits: SessionLimits;
  /** The format its client was described (DESCRIBE), which it can decode. */
  negotiated: CodecParameters;
  /** Announced in the Session header; the server closes a quiet session after it. */
  timeoutMs: number;
  sink: SessionSink;
  events: SessionEvents;
  latency?: LatencySamples;
}

/**
 * One RTSP session: a reader of one stream, with its transport and its own view of the hub. It owns
 * its state: SETUP, PLAY, PAUSE and TEARDOWN are methods that check the transition (RFC 2326
 * Appendix A) and say whether it was allowed.
 */
export class RtspSession {
  readonly id = randomBytes(8).toString('hex');
  readonly createdAt = Date.now();
  readonly stream: string;
  readonly caller: Caller;
  readonly ownerId: string;
  readonly remoteAddress: string;
  lastSeen = Date.now();
  /** RTP packets sent, and their bytes (headers included). */
  packets = 0;
  bytes = 0;
  /** RTP payload octets sent: a sender report's octet count (RFC 3550 §6.4.1). */
  payloadOctets = 0;
  private current: SessionState = 'init';
  private chosen?: Transport;
  private started = false;
  private consumer?: Consumer;
  private stallTimer?: NodeJS.Timeout;

  constructor(private readonly o: SessionOptions) {
    this.stream = o.stream;
    this.caller = o.caller;
    this.ownerId = o.ownerId;
    this.remoteAddress = o.remoteAddress;
  }

  get state(): SessionState {
    return this.current;
  }

  get transport(): Transport | undefined {
    return this.chosen;
  }

  /** SSRC of the packets it sends (the stream's). */
  get ssrc(): number {
    return this.o.packets.ssrc;
  }

  /** The `Session` header of answers: id and timeout in seconds (RFC 2326 §12.37). */
  get header(): string {
    return `${this.id};timeout=${Math.round(this.o.timeoutMs / 1000)}`;
  }

  /** It was PLAYed (it may be paused now). */
  get played(): boolean {
    return this.started;
  }

  get framesDropped(): number {
    return this.consumer?.stats.framesDropped ?? 0;
  }

  /** The codec this session negotiated (and is sent, or it ends). */
  get codec(): CodecParameters['codec'] {
    return this.o.negotiated.codec;
  }

  touch(): void {
    this.lastSeen = Date.now();
  }

  /** SETUP: init → ready over `transport`. False once set up (one track per session: 455). */
  setup(transport: Transport): boolean {
    if (this.current !== 'init') return false;
    this.chosen = transport;
    this.current = 'ready';
    return true;
  }

  /** PLAY: ready → playing (playing stays playing). False before SETUP and after TEARDOWN (455). */
  play(): boolean {
    if (this.current === 'playing') return true;
    if (this.current !== 'ready') return false;
    this.current = 'playing';
    this.consumer = this.o.hub.subscribe(this.stream, {
      name: `rtsp ${this.remoteAddress} ${this.caller.username}`,
      maxQueue: this.o.limits.maxQueue,
      onFrame: (f) => this.send(f),
      // Its client set up a decoder for this codec from the SDP; another codec's packets would be
      // garbage to it (and its stats would count them as delivered). Size and profile changes of the
      // same codec travel in-band (parameter sets before each keyframe), which players follow.
      accept: (p) => (p.codec === this.o.negotiated.codec ? undefined : this.codecChanged(p.codec)),
      onRejected: (reason) => this.o.events.rejected(this, reason),
    });
    this.o.hub.requestKeyframe(this.stream);
    if (!this.started) {
      this.started = true;
      this.o.events.started(this);
    }
    return true;
  }

  /** PAUSE: playing → ready (ready stays ready). False before SETUP and after TEARDOWN (455). */
  pause(): boolean {
    if (this.current !== 'ready' && this.current !== 'playing') return false;
    this.stopReading();
    this.current = 'ready';
    return true;
  }

  /** TEARDOWN, or any other end (timeout, RTCP BYE, lost connection, server stop): → closed, once. */
  teardown(reason: string): void {
    if (this.current === 'closed') return;
    this.stopReading();
    this.current = 'closed';
    this.o.events.closed(this, reason, this.started);
  }

  /** An RTCP packet (a sender report) to the client, the way its RTP goes. */
  sendRtcp(packet: Buffer): void {
    const t = this.chosen;
    if (!t || this.current === 'closed') return;
    if (t.kind === 'udp') return this.o.sink.sendUdpRtcp(packet, t.rtcpPort, t.address);
    const socket = this.o.sink.socket;
    if (!socket || socket.destroyed) return;
    const head = Buffer.from([0x24, t.rtcpChannel, packet.length >> 8, packet.length & 0xff]);
    socket.write(Buffer.concat([head, packet]));
  }

  private codecChanged(now: CodecParameters['codec']): string {
    const was = CODEC_LABEL[this.o.negotiated.codec];
    return `stream ${this.stream} changed from ${was} to ${CODEC_LABEL[now]}; this session negotiated ${was}: DESCRIBE again`;
  }

  private stopReading(): void {
    this.consumer?.close();
    this.consumer = undefined;
    clearTimeout(this.stallTimer);
  }

  private send(frame: EncodedFrame): void | Promise<void> {
    const list = this.o.packets.packetsOf(frame);
    const t = this.chosen!;
    if (t.kind === 'udp') {
      for (const p of list) this.o.sink.sendUdp(p, t.rtpPort, t.address);
      this.count(list);
      this.o.latency?.add((performance.now() - frame.receivedAt) * 1000);
      return;
    }
    const socket = this.o.sink.socket;
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
    this.o.latency?.add((performance.now() - frame.receivedAt) * 1000);
    const limits = this.o.limits;
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
        this.o.events.stalled(this);
      }, limits.stallMs);
    });
  }

  private count(list: Buffer[]): void {
    this.packets += list.length;
    for (const p of list) {
      this.bytes += p.length;
      this.payloadOctets += p.length - RTP_HEADER;
    }
  }
}
