/**
 * What a derived encoding costs (README, WebRTC): the daemon's whole process tree (daemon + media
 * process) serving a 720p30 4 Mbit/s stream with no viewer, with one and with ten werift receivers
 * that offer VP8 only, VP9 only, AV1 only (one extra encoder of that codec feeds them all), and with
 * ten H.264 receivers for comparison. Each step after its receivers connected and settled. Prints; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startDaemon } from '../apps/daemon/test/daemon-process.js';
import { treeCpuSeconds } from './proc.js';

const WINDOW_MS = 10_000;
const USER = { username: 'bench', password: 'bench-secret' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function main(): Promise<void> {
  const d = await startDaemon({
    users: [{ ...USER, permissions: ['Media_rw'] }],
    plugins: [{ name: '@camd/plugin-webrtc', options: { maxViewers: 100, maxViewersPerUser: 100, derivedLingerMs: 1000 } }],
    streams: [{ path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'main', source: 'videotestsrc' }],
  });
  const auth = { authorization: 'Basic ' + Buffer.from(`${USER.username}:${USER.password}`).toString('base64'), 'content-type': 'application/json' };
  const put = (key: string, value: unknown) => fetch(`${d.baseUrl}/api/state/${key}`, { method: 'PUT', headers: auth, body: JSON.stringify({ value }) });
  await put('webrtcEnabled', true);
  await put('webrtcIceServers', []);
  const cores = async () => {
    const c0 = treeCpuSeconds(d.child.pid!);
    await sleep(WINDOW_MS);
    return (treeCpuSeconds(d.child.pid!) - c0) / (WINDOW_MS / 1000);
  };
  try {
    await sleep(3000);
    const none = await cores();
    console.log(`no viewer: daemon + media process ${(none * 100).toFixed(0)} % of a core (the stream's own encoder)`);
    for (const [mode, n] of [
      ['camd-vp8', 1],
      ['camd-vp8', 10],
      ['camd-vp9', 1],
      ['camd-vp9', 10],
      ['camd-av1', 1],
      ['camd-av1', 10],
      ['camd', 10],
    ] as const) {
      const child = spawn(
        process.execPath,
        [
          '--conditions=source',
          '--import',
          'tsx',
          'bench/children/anchor-receivers.ts',
          mode,
          d.baseUrl,
          `${USER.username}:${USER.password}`,
          'stream2',
          String(n),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      await lines.next();
      await sleep(3000);
      const busy = await cores();
      child.stdin!.write(`measure 3000\n`);
      const fps = (JSON.parse((await lines.next()).value as string) as { frames: number[] }).frames.map((f) => f / 3);
      const stats = (await (await fetch(`${d.baseUrl}/api/stats`, { headers: auth })).json()) as Record<
        string,
        { derived?: { codec: string; running: boolean; fps: number; currentBitrate: number }[] }
      >;
      const derived = stats.stream2?.derived?.find((d) => d.running && d.codec === mode.slice(5));
      const codec = mode === 'camd' ? 'H.264' : mode.slice(5).toUpperCase();
      console.log(
        `${String(n).padStart(2)} ${codec} viewer(s): ${(busy * 100).toFixed(0)} % of a core, +${((busy - none) * 100).toFixed(0)} % over none` +
          `; slowest viewer ${Math.min(...fps).toFixed(1)} fps${derived && mode !== 'camd' ? `; ${codec} encoder ${derived.fps.toFixed(1)} fps, ${(derived.currentBitrate / 1e6).toFixed(2)} Mbit/s` : ''}`,
      );
      child.stdin!.end();
      await new Promise((r) => child.once('exit', r));
      await sleep(6000); // peers closed, the VP8 encoder past its linger
    }
  } finally {
    await d.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
