import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CODEC_LABEL, type EncodedFrame, type FrameCodec } from '@camd/core';
import { AU_CAPS, gdpBufferHeader, gdpStreamStart } from './gdp-writer.js';
import { drainedOrClosed, PublishError, type PublishSink } from './sink.js';
import { scrub, type ParsedTarget } from './targets.js';
import { connectTls, socketError } from './tls.js';

export interface MuxChildOptions {
  readonly target: ParsedTarget;
  /** The stream's codec, H.264 when left out (one the protocol carries: see `muxCodecRefusal`). */
  readonly codec?: FrameCodec;
  /** The child must have run this long, taking frames, before the target counts as publishing. */
  readonly confirmMs: number;
  /** `gst-launch-1.0` (tests may point elsewhere). */
  readonly gstLaunch?: string;
  /** rtmps://: the TLS connection to the server, at most this long (5000 ms when left out). */
  readonly timeoutMs?: number;
}

/** Elements each protocol needs whatever the codec (checked against the element registry before a target starts). */
export const MUX_ELEMENTS: Record<'rtmp' | 'srt', readonly string[]> = {
  rtmp: ['fdsrc', 'gdpdepay', 'flvmux', 'rtmp2sink'],
  srt: ['fdsrc', 'gdpdepay', 'mpegtsmux', 'srtsink'],
};

/**
 * The codecs each muxer carries, with the parser that prepares them for it: FLV (RTMP) knows H.264
 * only; MPEG-TS carries H.265 too. JPEG has no mapping in either.
 */
export const MUX_PARSERS: Record<'rtmp' | 'srt', Partial<Record<FrameCodec, string>>> = {
  rtmp: { h264: 'h264parse' },
  srt: { h264: 'h264parse', h265: 'h265parse' },
};

/** Why `protocol` cannot carry `stream` in `codec` (undefined when it can), as the target's `lastError` says it. */
export function muxCodecRefusal(protocol: 'rtmp' | 'srt', codec: FrameCodec, stream: string): string | undefined {
  const parsers = MUX_PARSERS[protocol];
  if (parsers[codec]) return undefined;
  const carried = (Object.keys(parsers) as FrameCodec[]).map((c) => CODEC_LABEL[c]).join(' and ');
  return `${protocol === 'rtmp' ? 'RTMP' : 'SRT (MPEG-TS)'} carries ${carried} only; ${stream} is ${CODEC_LABEL[codec]}`;
}

/**
 * The gst-launch arguments of a muxer child. Frames arrive on stdin as GDP (timestamps and keyframe
 * flags travel with each access unit); GStreamer's own muxers write FLV or MPEG-TS and its sinks
 * speak RTMP and SRT. `sync=false`: frames arrive in real time already, so the sink sends each at
 * once instead of waiting for the pipeline clock (which would add latency and drop "late" frames).
 * Values are quoted; the URL validator admits no quote, space or backslash that could end them.
 */
export function muxArgs(target: ParsedTarget, codec: FrameCodec = 'h264', tunnelPort?: number): string[] {
  if (target.protocol !== 'rtmp' && target.protocol !== 'srt') throw new Error(`no muxer child for ${target.protocol}`);
  const parser = MUX_PARSERS[target.protocol][codec];
  if (!parser) throw new Error(muxCodecRefusal(target.protocol, codec, target.stream));
  const head = ['-q', 'fdsrc', 'fd=0', 'blocksize=65536', '!', 'gdpdepay', '!', parser, '!'];
  if (target.protocol === 'rtmp') {
    // rtmps://: the child speaks plain RTMP to camd's loopback end of the TLS connection (see MuxChildSink).
    if (target.tls && tunnelPort === undefined) throw new Error("rtmps:// goes through camd's TLS connection: muxArgs needs its port");
    const location = target.tls ? `rtmp://127.0.0.1:${tunnelPort}${target.url.pathname}${target.url.search}` : target.url.href;
    return [...head, 'flvmux', 'streamable=true', '!', 'rtmp2sink', `location="${location}"`, 'sync=false', 'timeout=10'];
  }
  const uri = new URL(target.url.href);
  uri.searchParams.set('mode', 'caller');
  // alignment=7: seven 188-byte TS packets per write, one SRT payload of 1316 bytes (its default).
  // auto-reconnect=false: a lost listener fails the child, so the target counts it and backs off.
  return [...head, 'mpegtsmux', 'alignment=7', '!', 'srtsink', `uri="${uri.href}"`, 'sync=false', 'auto-reconnect=false', 'wait-for-connection=false'];
}

/**
 * RTMP and SRT through one `gst-launch-1.0` child per target: no re-encode (h264parse/h265parse only
 * repack Annex B for the muxer, e.g. into FLV's AVC format), and a crash of the muxer or the network library ends that child
 * only. The pipe to its stdin is the bounded queue: when it is full, `write` returns false and the
 * target's hub queue takes over (and drops to the next keyframe when that fills).
 *
 * rtmps://: camd makes the TLS connection itself (Node's TLS, verified as for rtsps://, with the
 * target's `ca`) before it starts the child, and hands the child a one-connection loopback port
 * that relays to it. rtmp2sink's own TLS (GLib's) trusts the system store only and cannot be given
 * a CA, and its error would say no more than "Unacceptable TLS certificate".
 */
export class MuxChildSink implements PublishSink {
  onFailure?: (err: PublishError) => void;
  /** Resolves once the child has run and taken frames for `confirmMs`. */
  readonly confirmed: Promise<void>;
  private confirm?: () => void;
  private child?: ChildProcessWithoutNullStreams;
  private base?: number;
  private sent = 0;
  private stderr = '';
  private closed = false;
  private failed = false;
  private exited?: Promise<void>;
  /** rtmps://: the verified TLS connection to the server, and the loopback server the child connects to. */
  private upstream?: TLSSocket;
  private relay?: Server;
  private local?: Socket;
  /** rtmps://: why the TLS connection ended first (said instead of the child's consequent error). */
  private tunnelError?: PublishError;

  constructor(private readonly o: MuxChildOptions) {
    this.confirmed = new Promise((resolve) => (this.confirm = resolve));
  }

  get bytesSent(): number {
    return this.sent;
  }

  /** The child's process id (tests stop a child as a crash would). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async open(): Promise<void> {
    const tunnelPort = this.o.target.tls ? await this.openTunnel() : undefined;
    if (this.closed) {
      this.closeTunnel();
      return;
    }
    const child = spawn(this.o.gstLaunch ?? 'gst-launch-1.0', muxArgs(this.o.target, this.o.codec ?? 'h264', tunnelPort), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stdout.resume();
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (t: string) => {
      // The last few KiB are enough for GStreamer's ERROR line and its debug detail.
      this.stderr = (this.stderr + t).slice(-4096);
    });
    // EPIPE after the child died is reported by its exit, with its own message.
    child.stdin.on('error', () => undefined);
    child.stdin.write(gdpStreamStart(AU_CAPS[this.o.codec ?? 'h264'], `camd-${this.o.target.stream}`));
    child.once('close', (code, signal) => this.fail(new PublishError('exited', this.exitMessage(code, signal))));
    return new Promise((resolve, reject) => {
      child.once('spawn', () => {
        resolve();
        // Neither rtmp2sink nor srtsink tells gst-launch when its connection is up; a child that
        // keeps running and taking frames for `confirmMs` has connected (a refused or unreachable
        // server ends it sooner, with GStreamer's error on stderr).
        const timer = setTimeout(() => {
          if (this.failed || this.closed) return;
          if (child.stdin.writableNeedDrain) child.stdin.once('drain', () => !this.failed && this.confirm?.());
          else this.confirm?.();
        }, this.o.confirmMs);
        child.once('close', () => clearTimeout(timer));
      });
      child.once('error', (err) => {
        // `gst-launch-1.0` itself is missing: no retry will help, but the backoff keeps it cheap.
        this.failed = true;
        this.closeTunnel();
        reject(new PublishError('exited', `cannot start gst-launch-1.0: ${err.message}`));
      });
    });
  }

  /**
   * The TLS connection to the server first (an untrusted certificate fails here, named as such),
   * then a loopback listener that takes one connection (the child's) and relays it both ways.
   * Resolves with the listener's port.
   */
  private async openTunnel(): Promise<number> {
    const { target } = this.o;
    const upstream = await connectTls(target, this.o.timeoutMs ?? 5000);
    this.upstream = upstream;
    const host = target.url.hostname.replace(/^\[|\]$/g, '');
    // The server's end, or an error, is the cause of what follows; a close that camd made (the child's side ended first) is not.
    let childEnded = false;
    upstream.on('error', (err) => {
      if (!childEnded) this.tunnelError ??= socketError(err, target, host, Number(target.url.port));
      this.local?.destroy();
    });
    upstream.once('end', () => {
      if (!childEnded) this.tunnelError ??= new PublishError('network', 'the server closed the TLS connection');
    });
    upstream.once('close', () => this.local?.destroy());
    const relay = createServer({ noDelay: true }, (local) => {
      // One connection, the child's: the listener closes once it has it.
      relay.close();
      if (this.local || upstream.destroyed) {
        local.destroy();
        return;
      }
      this.local = local;
      local.on('error', () => undefined);
      local.once('close', () => {
        childEnded = !upstream.destroyed;
        upstream.destroy();
      });
      local.pipe(upstream);
      upstream.pipe(local);
    });
    this.relay = relay;
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.listen(0, '127.0.0.1', () => resolve());
    });
    return (relay.address() as { port: number }).port;
  }

  private closeTunnel(): void {
    this.relay?.close();
    this.local?.destroy();
    this.upstream?.destroy();
  }

  write(frame: EncodedFrame): boolean {
    const child = this.child;
    if (!child || this.closed || this.failed || child.stdin.destroyed) return true;
    // Timestamps from capture time, relative to the first frame written: the muxer sees the
    // camera's own timing, not when frames happened to reach this process.
    this.base ??= frame.captureTimeMs;
    const ptsNs = BigInt(Math.max(0, Math.round((frame.captureTimeMs - this.base) * 1e6)));
    child.stdin.write(gdpBufferHeader(frame.data.length, ptsNs, frame.keyframe));
    this.sent += 62 + frame.data.length;
    return child.stdin.write(frame.data);
  }

  drained(): Promise<void> {
    const stdin = this.child?.stdin;
    return !stdin || this.closed || this.failed ? Promise.resolve() : drainedOrClosed(stdin);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.closeTunnel();
      return;
    }
    // EOS through the pipe lets flvmux/mpegtsmux finish and the sink say goodbye; a child that
    // does not end within a second (a sink blocked on a dead server) is killed.
    child.stdin.end();
    const killer = setTimeout(() => child.kill('SIGKILL'), 1000);
    await this.exited;
    clearTimeout(killer);
    this.closeTunnel();
  }

  private exitMessage(code: number | null, signal: NodeJS.Signals | null): string {
    const lines = this.stderr.split('\n').map((l) => l.trim());
    // `ERROR: from element /GstPipeline:pipeline0/GstRtmp2Sink:rtmp2sink0: Connection refused: …`
    const error = lines.find((l) => l.startsWith('ERROR: from element'))?.replace(/^ERROR: from element \S+:\s*/, '');
    const why = error ?? lines.filter(Boolean).at(-1);
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    // rtmps://: a TLS connection that ended first is the cause; the child's error is its consequence.
    const cause = this.tunnelError ? this.tunnelError.message : why;
    return scrub(`${this.o.target.protocol} muxer ${how}${cause ? `: ${cause}` : ''}`, this.o.target.secrets);
  }

  private fail(e: PublishError): void {
    this.closeTunnel();
    if (this.failed || this.closed) return;
    this.failed = true;
    this.onFailure?.(e);
  }
}
