#!/usr/bin/env node
/**
 * camd-timecode URL [frames]: prints, per frame, the capture time embedded by plugin-timestamp, the
 * arrival time and the glass-to-glass latency, then a summary (p50/p99).
 */
import { readTimecodes } from './reader.js';

const [url, framesArg, transport] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: camd-timecode rtsp://user:pass@host:8554/stream1 [frames=100] [tcp|udp]\n');
  process.exit(2);
}
const samples = await readTimecodes(url, {
  frames: Number(framesArg ?? 100),
  transport: transport === 'udp' ? 'udp' : 'tcp',
  onSample: (s) =>
    process.stdout.write(
      `${s.frame}\t${s.embeddedMs === undefined ? '-' : new Date(s.embeddedMs).toISOString()}\t${new Date(s.arrivalMs).toISOString()}\t${s.latencyMs === undefined ? 'unreadable' : `${s.latencyMs.toFixed(0)} ms`}\n`,
    ),
});
const lat = samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs])).sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]?.toFixed(0);
process.stdout.write(`frames ${samples.length}, readable ${lat.length}, latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms\n`);
