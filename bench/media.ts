/**
 * Media plane figures on this machine (x264, test pattern): frames/s delivered vs configured, CPU per
 * stream (its worker process, from /proc), hub-added latency (frame received from the encoder →
 * consumer callback) and, for context, capture → daemon latency. Each of the two default streams
 * (/stream1 1080p60 high 8 Mbit/s, /stream2 720p30 main 4 Mbit/s) runs alone, then both together as the
 * default config runs them, and from one shared source as on a camera. Prints; asserts nothing. `BENCH_SECONDS` sets the measuring time per run (default 10).
 */
import { createTestHost } from '../packages/core/src/testing/index.js';
import type { StreamManager } from '../packages/core/src/media/pipeline/manager.js';
import type { StreamConfig } from '../packages/core/src/config.js';
import { cpuSeconds, percentile } from './proc.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

const HD60: StreamConfig = { path: '/stream1', resolution: '1920x1080', fps: 60, bitrate: 8_000_000, profile: 'high', source: 'videotestsrc:smpte' };
const HD30: StreamConfig = { path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'main', source: 'videotestsrc:ball' };

async function measure(label: string, streams: StreamConfig[]): Promise<Record<string, string | number>[]> {
  const host = await createTestHost({ config: { streams } });
  try {
    const media = host.host.media as StreamManager;
    const names = media.list().map((s) => s.name);
    for (const s of names) await host.host.hub.nextFrame(s, 20_000);
    await new Promise((r) => setTimeout(r, 2000)); // warm-up: encoder rate control settles
    const probes = names.map((s) => {
      const hubLatency: number[] = [];
      const captureLatency: number[] = [];
      let frames = 0;
      let first = 0;
      let last = 0;
      const c = host.host.hub.subscribe(s, {
        name: 'bench',
        onFrame: (f) => {
          const now = performance.now();
          hubLatency.push(now - f.receivedAt);
          captureLatency.push(Date.now() - f.captureTimeMs);
          if (frames++ === 0) first = now;
          last = now;
        },
      });
      const pid = media.mediaPids()[0]!; // every pipeline runs in the one media process
      // A consumer joins at the next keyframe (up to a GOP later): the rate counts from its first frame.
      const fps = () => (frames - 1) / ((last - first) / 1000);
      return { s, c, pid, cpu0: cpuSeconds(pid), hubLatency, captureLatency, fps };
    });
    const captures = [...new Map(media.list().flatMap((s) => (s.capture ? [[s.capture.id, s.capture] as const] : []))).values()].map((c) => {
      const pid = media.mediaPids()[0]!;
      return { c, pid, cpu0: cpuSeconds(pid) };
    });
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    const captureRows = captures.map(({ c, pid, cpu0 }) => ({
      run: label,
      stream: `shared capture ${c.width}x${c.height}@${c.fps}`,
      'CPU % of a core': Number(((100 * (cpuSeconds(pid) - cpu0)) / elapsed).toFixed(0)),
    }));
    const streamRows = probes.map((p) => {
      p.c.close();
      const settings = media.get(p.s)!;
      const stats = media.stats(p.s) as { currentBitrate: number };
      return {
        run: label,
        stream: `${settings.width}x${settings.height}@${settings.fps}`,
        'fps delivered/configured': `${p.fps().toFixed(1)}/${settings.fps}`,
        'CPU % of a core': Number(((100 * (cpuSeconds(p.pid) - p.cpu0)) / elapsed).toFixed(0)),
        'kbit/s out/target': `${Math.round(stats.currentBitrate / 1000)}/${settings.bitrate / 1000}`,
        'hub latency p50/p99 µs': `${(percentile(p.hubLatency, 0.5) * 1000).toFixed(0)}/${(percentile(p.hubLatency, 0.99) * 1000).toFixed(0)}`,
        'capture→daemon p50/p99 ms': `${percentile(p.captureLatency, 0.5).toFixed(0)}/${percentile(p.captureLatency, 0.99).toFixed(0)}`,
      };
    });
    return [...streamRows, ...captureRows];
  } finally {
    await host.close();
  }
}

export async function main(): Promise<void> {
  const rows = [
    ...(await measure('alone', [HD60])),
    ...(await measure('alone', [{ ...HD30, path: '/stream1' }])),
    ...(await measure('together', [HD60, HD30])),
    // As on a camera: both streams from one source, captured once and shared (bench/README figures).
    ...(await measure('one source', [HD60, { ...HD30, source: HD60.source }])),
  ];
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
