/**
 * JPEG snapshots under NVR-like polling: `CLIENTS` clients each ask for the 1080p60 stream's
 * snapshot every `INTERVAL_MS` (as NVR thumbnails and ONVIF GetSnapshotUri users do). Prints the
 * answer latency and the CPU the snapshots cost (daemon process and its ffmpeg children, above the idle
 * cost of encoding). Asserts nothing.
 */
import { readFileSync } from 'node:fs';
import { createTestHost, basicAuth } from '../packages/core/src/testing/index.js';
import { percentile } from './proc.js';

const CLIENTS = Number(process.env.BENCH_SNAPSHOT_CLIENTS ?? 8);
const INTERVAL_MS = 500;
const SECONDS = 8;
const TICKS = 100;

/** CPU seconds of this process plus finished children (ffmpeg), excluding the pipeline worker. */
function selfAndReapedChildren(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(x[11]) + Number(x[12]) + Number(x[13]) + Number(x[14])) / TICKS;
}

export async function main(): Promise<void> {
  const host = await createTestHost({
    config: { streams: [{ path: '/stream1', resolution: '1920x1080', fps: 60, bitrate: 8_000_000, profile: 'high', source: 'videotestsrc:smpte' }] },
  });
  try {
    await host.host.hub.waitForParameters('stream1', 20_000);
    await new Promise((r) => setTimeout(r, 2000));
    const url = `${host.baseUrl}/api/streams/stream1/snapshot.jpg`;
    const auth = { authorization: basicAuth(host.users.viewer) };
    let c0 = selfAndReapedChildren();
    await new Promise((r) => setTimeout(r, 3000));
    const idle = (selfAndReapedChildren() - c0) / 3;
    // The first request has nothing to share: it waits for a whole decode (keyframe to newest frame).
    const coldStart = performance.now();
    await (await fetch(url, { headers: auth })).arrayBuffer();
    const cold = performance.now() - coldStart;
    const latencies: number[] = [];
    let failures = 0;
    c0 = selfAndReapedChildren();
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * INTERVAL_MS) / CLIENTS));
        while (Date.now() < end) {
          const t = performance.now();
          const res = await fetch(url, { headers: auth });
          await res.arrayBuffer();
          if (res.status === 200) latencies.push(performance.now() - t);
          else failures++;
          await new Promise((r) => setTimeout(r, Math.max(0, INTERVAL_MS - (performance.now() - t))));
        }
      }),
    );
    const cpu = (selfAndReapedChildren() - c0) / SECONDS - idle;
    console.log(`first snapshot of 1080p60 (a whole decode): ${cold.toFixed(0)} ms`);
    console.log(
      `${CLIENTS} clients × 1 snapshot / ${INTERVAL_MS} ms of 1080p60: ${latencies.length} answered, ${failures} failed; latency p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p90 ${percentile(latencies, 0.9).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms; snapshots cost ${(cpu * 100).toFixed(0)} % of a core`,
    );
  } finally {
    await host.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
