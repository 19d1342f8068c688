import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { createTestHost, freePort, testStream, type TestHost } from '@camd/core/testing';
import type { CamdConfig, StreamConfig } from '@camd/core';
import rtsp from './index.js';

export const run = promisify(execFile);

export interface RtspTestHost extends TestHost {
  rtspPort: number;
  url(path?: string, user?: { username: string; password: string } | null): string;
}

/** A real host with plugin-rtsp on a free port and the given streams (and more of the config, e.g. `auth`). */
export async function rtspHost(
  streams: StreamConfig[] = [testStream()],
  options: Record<string, unknown> = {},
  config: Partial<CamdConfig> = {},
): Promise<RtspTestHost> {
  const port = await freePort();
  const host = await createTestHost({ plugins: [{ def: rtsp, options: { port, host: '127.0.0.1', ...options } }], config: { ...config, streams } });
  return Object.assign(host, {
    rtspPort: port,
    url(path = '/stream1', user: { username: string; password: string } | null = host.users.viewer) {
      const cred = user ? `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@` : '';
      return `rtsp://${cred}127.0.0.1:${port}${path}`;
    },
  });
}

export interface ProbeResult {
  streams?: Array<{ codec_name: string; width: number; height: number; profile: string; r_frame_rate: string }>;
  error?: string;
}

export async function ffprobe(url: string, transport: 'tcp' | 'udp' | 'http' = 'tcp'): Promise<ProbeResult> {
  try {
    const { stdout } = await run(
      'ffprobe',
      [
        '-v',
        'error',
        '-rtsp_transport',
        transport,
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=codec_name,width,height,profile,r_frame_rate',
        '-of',
        'json',
        url,
      ],
      { timeout: 30_000 },
    );
    return JSON.parse(stdout) as ProbeResult;
  } catch (err) {
    return { error: String((err as { stderr?: string }).stderr ?? err) };
  }
}

/**
 * Sends raw bytes on a new RTSP connection and collects what comes back until the server is quiet
 * for `quietMs` after answering, or closes. The first answer may take up to `firstMs` (a scrypt check
 * of Basic credentials is slow on purpose, slower still on a busy machine).
 */
export async function rawExchange(port: number, data: Buffer | string, quietMs = 300, firstMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(done, ms);
    };
    s.on('data', (d) => {
      out += d.toString('latin1');
      arm(quietMs);
    });
    s.on('close', done);
    s.on('error', done);
    s.on('connect', () => {
      s.write(data);
      arm(firstMs);
    });
  });
}

/** A long-running ffmpeg reader that counts the frames it receives (reads its progress output). */
export function ffmpegReader(url: string, transport: 'tcp' | 'udp' | 'http' = 'tcp'): { child: ChildProcess; frames: () => number; stop: () => Promise<void> } {
  const child = spawn(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', transport, '-i', url, '-c', 'copy', '-f', 'null', '-progress', 'pipe:1', '-'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let frames = 0;
  child.stdout!.on('data', (d: Buffer) => {
    const m = [...d.toString().matchAll(/^frame=(\d+)/gm)];
    if (m.length) frames = Number(m.at(-1)![1]);
  });
  child.stderr!.on('data', () => undefined);
  return {
    child,
    frames: () => frames,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export interface RtspAnswer {
  status: number;
  headers: Record<string, string>;
}

/** A hand-driven RTSP client on one connection from `localAddress`: requests in turn, answers read (interleaved data skipped). */
export async function rtspClient(
  port: number,
  localAddress = '127.0.0.1',
): Promise<{ socket: Socket; ask(method: string, url: string, headers?: Record<string, string>): Promise<RtspAnswer>; closed: Promise<void> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  void closed.then(() => wake?.());
  let cseq = 0;
  /** The next answer: interleaved frames before it are dropped. */
  const answer = async (): Promise<RtspAnswer> => {
    for (;;) {
      while (buf.length >= 4 && buf[0] === 0x24) {
        const len = 4 + buf.readUInt16BE(2);
        if (buf.length < len) break;
        buf = buf.subarray(len);
      }
      const end = buf.indexOf('\r\n\r\n');
      if (buf[0] !== 0x24 && end >= 0) {
        const [first, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(rest.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        buf = buf.subarray(end + 4 + Number(headers['content-length'] ?? 0));
        return { status: Number(first!.split(' ')[1]), headers };
      }
      if (socket.destroyed) throw new Error('connection closed before an answer');
      await new Promise<void>((r) => (wake = r));
    }
  };
  return {
    socket,
    closed,
    async ask(method, url, headers = {}) {
      const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++cseq}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      return answer();
    },
  };
}

/**
 * Writes `chunk` again and again without reading anything, as a flooding peer does, until the
 * socket's writes have not drained for `quietMs` (the other side stopped reading: `blocked`), or
 * `maxBytes` went out. `sent`: bytes the kernel took.
 */
export async function floodUntilBlocked(socket: Socket, chunk: Buffer, maxBytes: number, quietMs = 1500): Promise<{ blocked: boolean; sent: number }> {
  const sent = () => socket.bytesWritten - socket.writableLength;
  while (sent() < maxBytes && !socket.destroyed) {
    if (socket.write(chunk)) continue;
    const drained = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => done(false), quietMs);
      const done = (v: boolean) => {
        clearTimeout(t);
        socket.off('drain', onDrain);
        resolve(v);
      };
      const onDrain = () => done(true);
      socket.once('drain', onDrain);
    });
    if (!drained) return { blocked: !socket.destroyed, sent: sent() };
  }
  return { blocked: false, sent: sent() };
}

/**
 * GStreamer 1.22's rtspsrc races with itself when a pipeline ends: after `num-buffers` the sink posts
 * EOS, the PAUSE rtspsrc sends on the way down is interrupted by its own CLOSE command flushing the
 * connection, and it posts "Could not send message. (Received end-of-file)" from gst_rtspsrc_pause /
 * gst_rtspsrc_try_send — then sends TEARDOWN on that same connection and gets camd's answer (seen with
 * GST_DEBUG=rtspsrc:6: "connection flush busy PAUSE" right before the error). gst-launch then exits 1
 * although every frame was decoded. This runs gst-launch (with `nice` if asked) and accepts exactly that
 * case: EOS reached first, and no error but that race's; its lines are removed from what it returns.
 */
export async function gstLaunch(args: string[], opts: { timeout?: number; nice?: boolean } = {}): Promise<{ stdout: string; stderr: string }> {
  const argv = ['gst-launch-1.0', ...args.filter((a) => a !== '-q')];
  const [cmd, ...rest] = opts.nice ? ['nice', ...argv] : argv;
  const raceLine =
    /^(ERROR: from element \/GstPipeline:pipeline\d+\/GstRTSPSrc:rtspsrc\d+: Could not write to resource\.|Additional debug info:|\.\.\/gst\/rtsp\/gstrtspsrc\.c\(\d+\): gst_rtspsrc_(try_send|pause) \(\): \/GstPipeline:pipeline\d+\/GstRTSPSrc:rtspsrc\d+:|Could not send message\. \(Received end-of-file\))$/;
  const clean = (s: string) => {
    const kept = s
      .split('\n')
      .filter((l) => !raceLine.test(l))
      .join('\n');
    return kept.trim() === '' ? '' : kept;
  };
  try {
    const { stdout, stderr } = await run(cmd!, rest, { timeout: opts.timeout ?? 30_000 });
    return { stdout, stderr: clean(stderr) };
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string; code?: number };
    const out = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
    const eosFirst = /Got EOS from element/.test(e.stdout ?? '');
    const onlyRace = out.split('\n').every((l) => !/ERROR/.test(l) || raceLine.test(l));
    if (e.code === 1 && eosFirst && onlyRace && /Received end-of-file/.test(out)) return { stdout: e.stdout ?? '', stderr: clean(e.stderr ?? '') };
    throw err;
  }
}
