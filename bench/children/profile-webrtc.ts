/**
 * Where the daemon's time goes with N WebRTC viewers: a V8 CPU profile of an in-process host serving
 * werift receivers (bench/children/webrtc-receivers.ts in another process), summarised by self time.
 * Usage: tsx --conditions=source bench/children/profile-webrtc.ts [viewers=30] [seconds=5]
 */
import { spawn } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { createTestHost, testStream } from '../../packages/core/src/testing/index.js';
import webrtc from '../../packages/plugin-webrtc/src/index.js';

const viewers = Number(process.argv[2] ?? 30);
const seconds = Number(process.argv[3] ?? 5);
const h = await createTestHost({
  plugins: [{ def: webrtc, options: { maxViewers: 500 } }],
  config: { streams: [testStream({ resolution: '1280x720', fps: 30, bitrate: 4_000_000 })] },
});
await h.fetch('/api/state/webrtcEnabled', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: true }) });
const child = spawn(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', 'bench/children/anchor-receivers.ts', 'camd', h.baseUrl, 'admin:admin-secret', 'stream1', String(viewers)],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
await lines.next();
await new Promise((r) => setTimeout(r, 2000));
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');
await new Promise((r) => setTimeout(r, seconds * 1000));
const { profile } = await session.post('Profiler.stop');
const self = new Map<string, number>();
const dt = new Map<number, number>();
profile.samples!.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas![i] ?? 0)));
for (const n of profile.nodes) {
  const f = n.callFrame;
  const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '')}:${f.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + (dt.get(n.id) ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
if (process.env.PROFILE_OUT) (await import('node:fs')).writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));
for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
child.stdin!.end();
child.kill();
await h.close();
process.exit(0);
