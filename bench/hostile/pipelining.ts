/**
 * Attack 1 of `pnpm bench hostile-network`: connections that pipeline requests as fast as the server
 * takes them and never read an answer (the answers can only pile up in the server). RTSP
 * (`OPTIONS * RTSP/1.0`), HTTP (`GET /api/health`), and the POST side of an RTSP-over-HTTP tunnel
 * whose GET side is never read.
 */
import { connect, type Socket } from 'node:net';
import { ATTACKER, sleep } from './common.js';

export type PipelineKind = 'rtsp' | 'http' | 'tunnel';

export interface PipelineResult {
  /** Bytes of requests the server took (written to the kernel or held by the socket). */
  sentMiB: number;
  connected: number;
  /** Connections the server closed (or reset) during the attack. */
  closedByServer: number;
  /** Why the attack ended early, if it did. */
  stoppedEarly?: string;
  seconds: number;
}

const CHUNK_BYTES = 60 * 1024;

/** Whole requests, repeated up to about `CHUNK_BYTES` (a multiple of 3 bytes, so its base64 has no padding). */
function chunkOf(request: (n: number) => string): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let n = 1; size < CHUNK_BYTES; n++) {
    const r = request(n);
    parts.push(r);
    size += r.length;
  }
  let text = parts.join('');
  // Empty lines between requests are allowed (RTSP and HTTP parsers skip them).
  while (text.length % 3 !== 0) text += '\r\n';
  return Buffer.from(text, 'latin1');
}

const RTSP_CHUNK = chunkOf((n) => `OPTIONS * RTSP/1.0\r\nCSeq: ${n}\r\n\r\n`);
const HTTP_CHUNK = chunkOf(() => 'GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
const TUNNEL_CHUNK = Buffer.from(RTSP_CHUNK.toString('base64'), 'latin1');

interface Conn {
  socket: Socket;
  connected: boolean;
  closedByServer: boolean;
}

/** A connection from the attacker's address that never reads (paused from the start). */
function open(port: number, ours: Set<Socket>): Promise<Conn> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: ATTACKER });
    socket.pause();
    ours.add(socket);
    const c: Conn = { socket, connected: false, closedByServer: false };
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (ours.has(socket)) c.closedByServer = true;
      resolve(c);
    });
    // A connection the server does not accept within 5 s counts as not connected.
    const timer = setTimeout(() => resolve(c), 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      c.connected = true;
      resolve(c);
    });
  });
}

/** Writes `chunk` again and again, only as fast as the socket takes it, until `until` or the socket closes. */
async function pump(s: Socket, chunk: Buffer, until: number, stop: () => boolean): Promise<void> {
  while (!s.destroyed && performance.now() < until && !stop()) {
    if (s.write(chunk)) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      const t = setTimeout(done, 250);
      s.once('drain', done);
      s.once('close', done);
    });
  }
}

/**
 * `connections` non-reading connections to `port` pipelining for `seconds` (or until `stopIf` says
 * why to stop: the bench stops a daemon's growth before it takes the machine's memory).
 */
export async function pipelineFlood(
  kind: PipelineKind,
  port: number,
  seconds: number,
  opts: { connections?: number; path?: string; stopIf?: () => string | undefined } = {},
): Promise<PipelineResult> {
  const n = opts.connections ?? 8;
  const ours = new Set<Socket>();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  let stoppedEarly: string | undefined;
  const watch = setInterval(() => (stoppedEarly ??= opts.stopIf?.()), 200);
  const stop = () => stoppedEarly !== undefined;
  const conns: Conn[] = [];
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        if (kind !== 'tunnel') {
          const c = await open(port, ours);
          conns.push(c);
          if (c.connected) await pump(c.socket, kind === 'rtsp' ? RTSP_CHUNK : HTTP_CHUNK, until, stop);
          return;
        }
        // The GET side carries every answer and is never read; the POST side carries the requests.
        const cookie = `bench${i}${Date.now().toString(36)}`;
        const path = opts.path ?? '/stream1';
        const get = await open(port, ours);
        conns.push(get);
        if (!get.connected) return;
        get.socket.write(
          `GET ${path} HTTP/1.0\r\nx-sessioncookie: ${cookie}\r\nAccept: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n`,
        );
        await sleep(300);
        const post = await open(port, ours);
        conns.push(post);
        if (!post.connected) return;
        post.socket.write(
          `POST ${path} HTTP/1.0\r\nx-sessioncookie: ${cookie}\r\nContent-Type: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nContent-Length: 32767\r\nExpires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n`,
        );
        await pump(post.socket, TUNNEL_CHUNK, until, stop);
      }),
    );
    // A connection the server closed early leaves its pump: the others go on until the end.
    while (performance.now() < until && !stop()) await sleep(100);
  } finally {
    clearInterval(watch);
  }
  const sent = conns.reduce((a, c) => a + c.socket.bytesWritten, 0);
  const result: PipelineResult = {
    sentMiB: sent / 2 ** 20,
    connected: conns.filter((c) => c.connected).length,
    closedByServer: conns.filter((c) => c.closedByServer).length,
    stoppedEarly,
    seconds: (performance.now() - t0) / 1000,
  };
  // Counted before our own close: from here on a close is ours.
  const sockets = [...ours];
  ours.clear();
  for (const s of sockets) s.destroy();
  return result;
}
