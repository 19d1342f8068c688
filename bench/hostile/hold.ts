/**
 * Attacks 2 and 7 of `pnpm bench hostile-network`: one address holds many RTSP connections, each after
 * one `OPTIONS` (what an anonymous client may send), or many RTSPS connections that begin a TLS
 * handshake and never finish it, and opens a new one for each the server closes; a legitimate reader
 * from another address then plays the stream.
 */
import { connect, type Socket } from 'node:net';
import { BenchReader } from '../rtsp-reader.js';
import type { Credentials } from '../rtsp-client.js';
import { ATTACKER, LEGIT, sleep } from './common.js';

/** What a held connection sends: one OPTIONS, or the header of a TLS handshake record (a ClientHello begun, never finished). */
export type HoldWith = 'options' | 'handshake';
const TLS_RECORD_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);

/** At most this many replacements per half second: a steady attacker, not a connect storm that measures the bench's own CPU. */
const REOPEN_PER_TICK = 100;

export class ConnectionHolder {
  answered = 0;
  closedByServer = 0;
  refused = 0;
  reopened = 0;
  private readonly open = new Set<Socket>();
  /** Every socket not closed yet, connected or still connecting. */
  private readonly all = new Set<Socket>();
  private readonly closedAt: number[] = [];
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly port: number,
    private readonly count: number,
    private readonly hold: HoldWith = 'options',
  ) {}

  /** Opens `count` connections (in batches: the backlog of a listening socket is finite) and waits until each connected or failed. */
  async start(): Promise<void> {
    const attempts: Promise<void>[] = [];
    for (let i = 0; i < this.count; i++) {
      attempts.push(this.openOne());
      if (i % 50 === 49) await sleep(25);
    }
    await Promise.race([Promise.all(attempts), sleep(15_000)]);
    this.timer = setInterval(() => this.reopen(), 500);
  }

  get openNow(): number {
    return this.open.size;
  }

  private openOne(): Promise<void> {
    return new Promise((resolve) => {
      const s = connect({ port: this.port, host: '127.0.0.1', localAddress: ATTACKER });
      this.all.add(s);
      let connected = false;
      let gotAnswer = false;
      s.on('error', () => undefined);
      s.on('data', () => {
        if (!gotAnswer) this.answered++;
        gotAnswer = true;
      });
      s.once('connect', () => {
        connected = true;
        this.open.add(s);
        s.write(this.hold === 'handshake' ? TLS_RECORD_START : `OPTIONS rtsp://127.0.0.1:${this.port}/stream1 RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
        resolve();
      });
      s.once('close', () => {
        resolve();
        this.all.delete(s);
        if (this.stopped) return;
        if (connected) this.closedByServer++;
        else this.refused++;
        this.open.delete(s);
        this.closedAt.push(Date.now());
      });
    });
  }

  /** Replaces connections the server closed at least a second ago. */
  private reopen(): void {
    const due = Date.now() - 1000;
    let n = 0;
    while (this.closedAt.length && this.closedAt[0]! <= due && n < REOPEN_PER_TICK && this.open.size < this.count) {
      this.closedAt.shift();
      n++;
      this.reopened++;
      void this.openOne();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const s of this.all) s.destroy();
    this.all.clear();
    this.open.clear();
  }
}

export interface LegitRead {
  /** 'ok' or what went wrong (the status of a refused request, a closed connection, a timeout). */
  outcome: string;
  firstFrameMs?: number;
  frames: number;
  fps: number;
}

/**
 * A reader from the legitimate address plays `url` (`rtsps://`: the certificate verified against `ca`): frames over `seconds` counted from one second
 * after its first frame (a server that starts its pipeline on the first reader is not penalised).
 */
export async function legitRead(url: string, auth: Credentials, scheme: 'basic' | 'digest', seconds: number, ca?: string): Promise<LegitRead> {
  const r = new BenchReader(url, auth, { localAddress: LEGIT, scheme, timeoutMs: 10_000, ca });
  const t0 = performance.now();
  try {
    await r.start();
    const deadline = performance.now() + 10_000;
    while (r.firstFrameAt === undefined && performance.now() < deadline) await sleep(50);
    if (r.firstFrameAt === undefined) return { outcome: 'played, but no frame within 10 s', frames: 0, fps: 0 };
    const firstFrameMs = r.firstFrameAt - t0;
    await sleep(1000);
    const f0 = r.frames;
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const frames = r.frames - f0;
    return { outcome: 'ok', firstFrameMs, frames, fps: frames / ((performance.now() - w0) / 1000) };
  } catch (err) {
    return { outcome: (err as Error).message, frames: r.frames, fps: 0 };
  } finally {
    r.stop();
  }
}
