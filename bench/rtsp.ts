/**
 * camd's RTSP server side by side with itself over TLS (RTSPS) and with gst-rtsp-server (the
 * reference), same source and encoder settings (1280x720@30 noise, x264 ultrafast zerolatency,
 * 4 Mbit/s): how many TCP readers each sustains without drops here, CPU per reader (server process,
 * above its cost with one reader), and camd's server-added latency (frame from the encoder → last RTP
 * packet written). RTSP and RTSPS readers are measured one after the other on the same daemon; the
 * RTSPS readers verify its generated certificate. Prints; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startDaemon } from '../apps/daemon/test/daemon-process.js';
import { freePort, basicAuth } from '../packages/core/src/testing/index.js';
import { BenchReader } from './rtsp-reader.js';
import { cpuSeconds } from './proc.js';

const FPS = 30;
const [WIDTH, HEIGHT] = [1280, 720];
const STEPS = (process.env.BENCH_READERS ?? '10,50,100,200').split(',').map(Number);
const WINDOW_S = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Step {
  readers: number;
  minFps: number;
  sustained: boolean;
  cpuPerReader: number;
}

async function measure(url: string, pid: number, auth?: { username: string; password: string }, ca?: string): Promise<Step[]> {
  const opts = { ca };
  const out: Step[] = [];
  // Baseline: one reader connected, so both servers are encoding (gst-rtsp-server starts its media
  // pipeline on the first reader); per-reader cost is what each further reader adds.
  const first = new BenchReader(url, auth, opts);
  await first.start();
  await sleep(3000);
  let c0 = cpuSeconds(pid);
  await sleep(WINDOW_S * 1000);
  const idle = (cpuSeconds(pid) - c0) / WINDOW_S;
  for (const n of STEPS) {
    const readers = Array.from({ length: n }, () => new BenchReader(url, auth, opts));
    // A server that cannot take more readers within 10 s has reached its limit here.
    const started = await Promise.race([
      Promise.all(readers.map((r) => r.start())).then(
        () => true,
        () => false,
      ),
      sleep(10_000).then(() => false),
    ]);
    if (!started) {
      readers.forEach((r) => r.stop());
      out.push({ readers: n, minFps: 0, sustained: false, cpuPerReader: NaN });
      break;
    }
    await sleep(2000);
    const f0 = readers.map((r) => r.frames);
    c0 = cpuSeconds(pid);
    await sleep(WINDOW_S * 1000);
    const cpu = (cpuSeconds(pid) - c0) / WINDOW_S;
    const fps = readers.map((r, i) => (r.frames - f0[i]!) / WINDOW_S);
    readers.forEach((r) => r.stop());
    const minFps = Math.min(...fps);
    out.push({ readers: n, minFps, sustained: minFps >= FPS * 0.95, cpuPerReader: (100 * (cpu - idle)) / n });
    await sleep(1000);
    if (minFps < FPS * 0.5) break;
  }
  first.stop();
  return out;
}

export async function main(): Promise<void> {
  // camd: RTSP, then RTSPS on the same daemon
  const [rtspPort, rtspsPort] = [await freePort(), await freePort()];
  const user = { username: 'bench', password: 'bench-pw', permissions: ['Media_r'] };
  const camd = await startDaemon({
    users: [user],
    http: { tls: { port: await freePort() } },
    // Its readers stand for clients on many machines: the per-address and per-user limits are raised.
    plugins: [
      {
        name: '@camd/plugin-rtsp',
        options: {
          host: '127.0.0.1',
          maxSessions: 1000,
          highWaterBytes: 4_194_304,
          maxSessionsPerUser: 1000,
          maxConnectionsPerAddress: 2000,
          maxUnauthenticatedPerAddress: 1000,
          maxUnauthenticated: 1000,
        },
      },
    ],
    rtsp: {
      port: rtspPort,
      tls: { port: rtspsPort },
      streams: [
        { path: '/stream1', resolution: `${WIDTH}x${HEIGHT}`, fps: FPS, bitrate: 4_000_000, profile: 'main', preset: 'ultrafast', source: 'videotestsrc:snow' },
      ],
    },
  });
  let camdSteps: Step[];
  let tlsSteps: Step[];
  let latency: unknown;
  try {
    camdSteps = await measure(`rtsp://127.0.0.1:${rtspPort}/stream1`, camd.child.pid!, user);
    const ca = readFileSync(join(camd.stateDir, 'tls', 'cert.pem'), 'utf8');
    tlsSteps = await measure(`rtsps://127.0.0.1:${rtspsPort}/stream1`, camd.child.pid!, user, ca);
    const r = new BenchReader(`rtsp://127.0.0.1:${rtspPort}/stream1`, user);
    await r.start();
    await sleep(3000);
    const stats = (await (await fetch(`${camd.baseUrl}/api/stats`, { headers: { authorization: basicAuth(user) } })).json()) as Record<
      string,
      { rtsp: { serverLatencyUs: unknown } }
    >;
    latency = stats.stream1!.rtsp.serverLatencyUs;
    r.stop();
  } finally {
    await camd.stop();
  }

  // gst-rtsp-server
  const gstPort = await freePort();
  const gst = spawn(
    '/usr/bin/python3',
    [new URL('./gst_rtsp_server.py', import.meta.url).pathname, String(gstPort), String(WIDTH), String(HEIGHT), String(FPS), '4000'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let gstSteps: Step[] = [];
  try {
    await new Promise<void>((resolve) => createInterface({ input: gst.stdout! }).once('line', () => resolve()));
    gstSteps = await measure(`rtsp://127.0.0.1:${gstPort}/stream1`, gst.pid!);
  } finally {
    gst.kill('SIGKILL');
  }

  const rows = STEPS.map((n) => {
    const a = camdSteps.find((s) => s.readers === n);
    const t = tlsSteps.find((s) => s.readers === n);
    const b = gstSteps.find((s) => s.readers === n);
    const f = (s?: Step) => (s ? `${s.minFps.toFixed(1)} fps min${s.sustained ? '' : ' (drops)'}, ${s.cpuPerReader.toFixed(2)} %cpu/reader` : '-');
    const ratio = (x?: Step, y?: Step) => (x && y ? (x.cpuPerReader / y.cpuPerReader).toFixed(2) : '-');
    return {
      readers: n,
      'camd RTSP': f(a),
      'camd RTSPS': f(t),
      'cpu/reader RTSPS÷RTSP': ratio(t, a),
      'gst-rtsp-server': f(b),
      'cpu/reader camd÷gst': ratio(a, b),
    };
  });
  console.log(`${WIDTH}x${HEIGHT}@${FPS}, 4 Mbit/s, TCP interleaved readers (RTSPS: TLS, certificate verified)`);
  console.table(rows);
  const sustained = (ss: Step[]) => Math.max(0, ...ss.filter((s) => s.sustained).map((s) => s.readers));
  const a = sustained(camdSteps);
  const t = sustained(tlsSteps);
  const b = sustained(gstSteps);
  console.log(
    `readers sustained without drops (of the steps tried): camd RTSP ${a}, camd RTSPS ${t}, gst-rtsp-server ${b}, camd÷gst ${(a / Math.max(1, b)).toFixed(2)}`,
  );
  console.log(`camd server-added latency (frame from encoder → last RTP packet written, µs):`, latency);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
