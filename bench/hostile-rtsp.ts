/**
 * `pnpm bench hostile-rtsp` (issue 15, "hostile input never holds a connection"): N hostile and
 * mutated RTSP requests (default 325: the issue's three examples, a few classics, the rest from the
 * fuzzer's generator with a fixed seed, fuzz/targets/rtsp.ts), each on its own connection, 32 at a
 * time, sent to camd and to gst-rtsp-server (bench/gst_rtsp_server.py) one after the other. A
 * connection is watched for 12 s (HOSTILE_WATCH_S): "held" = no byte of answer and still open at the
 * end (what costs a server a connection for nothing); also counted: answered, answered and closed
 * within 1 s, closed without an answer. Prints both; asserts nothing. HOSTILE_COUNT changes N.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { hostileConversation } from '../fuzz/targets/rtsp.js';
import { daemonMode, freePort, startCamd } from './camd.js';
import { stopTree } from './proc.js';

const COUNT = Number(process.env.HOSTILE_COUNT ?? 325);
const WATCH_S = Number(process.env.HOSTILE_WATCH_S ?? 12);
const PARALLEL = 32;

/** The requests: fixed examples first, then generated ones (same seed, same set, every run). */
export function hostileSet(count: number): Buffer[] {
  const fixed = [
    Buffer.from('OPTIONS rtsp://127.0.0.1/stream1 RT\xbbP/1.0\r\nCSeq: 1\r\n\r\n', 'latin1'),
    Buffer.from('OPTIONS rtsp://127.0.0.1/stream1 RrSP/1.0\r\nCSeq: 1\r\n\r\n', 'latin1'),
    Buffer.from('SET_PARAMETER rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 999999999\r\n\r\nx', 'latin1'),
    Buffer.alloc(64 * 1024, '"'),
    // A head that never ends, one that trickles nothing more, binary noise, an interleaved frame that never completes.
    Buffer.from('DESCRIBE rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 3\r\n', 'latin1'),
    Buffer.from('DESCRIBE rtsp://127.0.0.1/stream1 RTSP/1.0', 'latin1'),
    Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
    Buffer.from([0x24, 0x00, 0xff, 0xff, 0x80, 0x60]),
    Buffer.from(`OPTIONS rtsp://127.0.0.1/${'a'.repeat(70_000)} RTSP/1.0\r\nCSeq: 4\r\n\r\n`, 'latin1'),
    Buffer.from(`OPTIONS * RTSP/1.0\r\nCSeq: 5\r\n${'X-A: b\r\n'.repeat(5000)}\r\n`, 'latin1'),
  ];
  const generated = fc.sample(hostileConversation, { numRuns: Math.max(0, count - fixed.length), seed: 325 }).map((m) => m.bytes);
  return [...fixed, ...generated].slice(0, count);
}

interface Outcome {
  answered: boolean;
  closedMs?: number;
  answeredMs?: number;
}

function probe(port: number, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const o: Outcome = { answered: false };
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('connect', () => s.write(bytes));
    s.on('data', () => {
      if (!o.answered) {
        o.answered = true;
        o.answeredMs = Date.now() - t0;
      }
    });
    let watching = true;
    const timer = setTimeout(() => {
      // Our own close after the watch is not the server's: the outcome is final before it.
      watching = false;
      resolve({ ...o });
      s.destroy();
    }, WATCH_S * 1000);
    s.on('close', () => {
      if (!watching) return;
      watching = false;
      clearTimeout(timer);
      o.closedMs = Date.now() - t0;
      resolve({ ...o });
    });
  });
}

async function runSet(port: number, set: Buffer[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array(set.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < set.length) {
        const i = next++;
        out[i] = await probe(port, set[i]!);
      }
    }),
  );
  return out;
}

function summary(name: string, o: Outcome[]): Record<string, string | number> {
  const held = o.filter((x) => !x.answered && x.closedMs === undefined).length;
  return {
    server: name,
    connections: o.length,
    [`held: no answer, open ≥ ${WATCH_S} s`]: held,
    answered: o.filter((x) => x.answered).length,
    'answered, closed ≤ 1 s after': o.filter((x) => x.answered && x.closedMs !== undefined && x.closedMs - x.answeredMs! <= 1000).length,
    'answered, still open': o.filter((x) => x.answered && x.closedMs === undefined).length,
    'closed without answer': o.filter((x) => !x.answered && x.closedMs !== undefined).length,
  };
}

export async function main(): Promise<void> {
  const set = hostileSet(COUNT);
  console.log(`camd runs as: ${daemonMode()}; ${set.length} hostile requests, ${PARALLEL} connections at a time, each watched ${WATCH_S} s`);
  const rows: Record<string, string | number>[] = [];
  const camd = await startCamd({
    plugins: ['@camd/plugin-rtsp'],
    rtsp: { enabled: true, streams: [{ path: '/stream1', resolution: '640x360', fps: 30, bitrate: 1_000_000, profile: 'main', source: 'videotestsrc:ball' }] },
  });
  try {
    const outcomes = await runSet(camd.rtspPort, set);
    rows.push(summary('camd', outcomes));
    // What camd left without an answer: the inputs, to see why.
    const held = outcomes.flatMap((o, i) => (!o.answered && o.closedMs === undefined ? [i] : []));
    for (const i of held.slice(0, 12))
      console.log(
        `  camd held #${i}: ${JSON.stringify(set[i]!.subarray(0, 160).toString('latin1'))}${set[i]!.length > 160 ? ` (${set[i]!.length} bytes)` : ''}`,
      );
  } finally {
    await camd.stop();
  }
  const gstPort = await freePort();
  const gst = spawn('/usr/bin/python3', [new URL('./gst_rtsp_server.py', import.meta.url).pathname, String(gstPort), '640', '360', '30', '1000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve) => createInterface({ input: gst.stdout! }).once('line', () => resolve()));
    rows.push(summary('gst-rtsp-server', await runSet(gstPort, set)));
  } finally {
    await stopTree(gst, 'SIGTERM', 3000);
  }
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
