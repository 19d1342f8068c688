/**
 * `pnpm bench soak` (issue 15; runs only when named): camd under a day's kind of churn, compressed.
 *
 * Load, for SOAK_MINUTES (default 30):
 * - SOAK_READERS (default 50) RTSP/TCP readers (bench/rtsp-reader.ts, in this process), spread over the
 *   streams; every SOAK_CHURN_S (default 2) s one leaves and a new one joins;
 * - SOAK_WEBRTC (default 5) WebRTC viewers of the last stream (werift receivers in a child process,
 *   bench/children/webrtc-receivers.ts; skipped with the reason printed when the plugin is not loaded);
 * - a settings change every 10 s on the last stream: its bitrate (applied live), every third change
 *   its frame rate (a pipeline rebuild);
 * - a media crash every 2 min (SOAK_CRASH_S): SIGKILL to the media process (found in the daemon's process tree).
 *
 * Printed: RSS of the daemon and of the media process after warm-up (SOAK_WARMUP s, default 60) vs at
 * the end (growth %, target ≤ 5 %); open fds of both over time (from /proc); after each disturbance
 * (rebuild, crash), whether every reader present got a frame of the new pipeline (captured after the
 * disturbance; after a rebuild also at the new frame rate) and how long the last one took
 * (SOAK_RECOVER_S, default 20, to recover); WebRTC frames per viewer at the end. The daemon runs the
 * default config (every plugin, both default streams); SOAK_CONFIG=light: one 720p30 stream with
 * RTSP and WebRTC. Asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { latencyMs } from './api-load.js';
import { asManyClients, BENCH_USER, DEFAULT_CONFIG, daemonMode, startCamd, type Camd } from './camd.js';
import { MiB, processLabel, rssKiB, stopTree, treePids } from './proc.js';
import { BenchReader } from './rtsp-reader.js';

export const onlyWhenNamed = true;

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const WARMUP_S = Number(process.env.SOAK_WARMUP ?? 60);
const READERS = Number(process.env.SOAK_READERS ?? 50);
const WEBRTC = Number(process.env.SOAK_WEBRTC ?? 5);
const CHURN_S = Number(process.env.SOAK_CHURN_S ?? 2);
const RECOVER_S = Number(process.env.SOAK_RECOVER_S ?? 20);
const SETTINGS_S = 10;
const CRASH_S = Number(process.env.SOAK_CRASH_S ?? 120);
const SAMPLE_S = 15;
const LIGHT = process.env.SOAK_CONFIG === 'light';
const TARGET_PERCENT = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

function mediaPid(camd: Camd): number | undefined {
  return treePids(camd.pid).find((p) => p !== camd.pid && /media-host/.test(processLabel(p)));
}

interface Reader {
  r: BenchReader;
  path: string;
  started: Promise<void>;
  /** Capture wall-clock time (ms) of the newest frame, from its RTP timestamp. */
  lastCapture: number;
  /** RTP timestamp step between the two newest frames (90 kHz / fps). */
  lastStep: number;
  lastTs?: number;
}

interface Disturbance {
  at: number;
  what: string;
  readers: number;
  recovered: number;
  /** Seconds until the last reader got a frame again (or the wait ran out). */
  seconds: number;
}

export async function main(): Promise<void> {
  const config = LIGHT
    ? {
        plugins: ['@camd/plugin-rtsp', '@camd/plugin-webrtc'],
        rtsp: {
          enabled: true,
          streams: [{ path: '/stream2', resolution: '1280x720', fps: 30, bitrate: 4_000_000, profile: 'main', source: 'videotestsrc:ball' }],
        },
      }
    : (JSON.parse(readFileSync(DEFAULT_CONFIG, 'utf8')) as Record<string, unknown>);
  const streams = (config as { rtsp: { streams: { path: string }[] } }).rtsp.streams.map((s) => s.path);
  const last = streams.at(-1)!;
  const lastName = last.slice(1);
  // The primary stream's keys have plain names; the others are prefixed (core state/keys.ts).
  const key = (k: string) => (streams.length === 1 ? k : `${lastName}.${k}`);
  console.log(
    `camd runs as: ${daemonMode()}; ${LIGHT ? 'one 720p30 stream, RTSP + WebRTC' : 'default config'}; ${MINUTES} min (${WARMUP_S} s warm-up): ${READERS} RTSP readers (one leaves, one joins every ${CHURN_S} s), ${WEBRTC} WebRTC viewers, a setting every ${SETTINGS_S} s, a media crash every ${CRASH_S} s`,
  );
  const camd = await startCamd(asManyClients(config));
  const readers = new Set<Reader>();
  const join = (i: number) => {
    const path = streams[i % streams.length]!;
    const r = new BenchReader(`rtsp://127.0.0.1:${camd.rtspPort}${path}`, BENCH_USER);
    const entry: Reader = { r, path, started: Promise.resolve(), lastCapture: 0, lastStep: 0 };
    r.onFrame = (ts) => {
      entry.lastCapture = Date.now() - latencyMs(ts);
      if (entry.lastTs !== undefined) entry.lastStep = (ts - entry.lastTs + 2 ** 32) % 2 ** 32;
      entry.lastTs = ts;
    };
    entry.started = r.start().catch(() => undefined);
    readers.add(entry);
    return entry;
  };
  let webrtc: ChildProcess | undefined;
  let webrtcNote = '';
  const rss = { daemon: [] as number[], media: [] as number[] };
  const fds: string[] = [];
  const disturbances: Disturbance[] = [];
  let t0 = Date.now();
  const elapsed = () => (Date.now() - t0) / 1000;
  try {
    for (let i = 0; i < READERS; i++) join(i);
    await Promise.all([...readers].map((x) => x.started));
    webrtc = await startWebrtc(camd, lastName).catch((err: Error) => {
      webrtcNote = `WebRTC viewers skipped: ${err.message}`;
      return undefined;
    });
    console.log(webrtc ? `  ${WEBRTC} WebRTC viewers connected` : `  ${webrtcNote}`);
    // The run (and its warm-up) starts when everyone is connected.
    t0 = Date.now();

    let joined = READERS;
    let nextChurn = CHURN_S;
    let nextSetting = SETTINGS_S;
    let nextCrash = CRASH_S;
    let nextSample = WARMUP_S;
    let settingN = 0;
    while (elapsed() < MINUTES * 60) {
      await sleep(250);
      const now = elapsed();
      if (now >= nextChurn) {
        nextChurn += CHURN_S;
        const leaving = [...readers][Math.floor(Math.random() * readers.size)];
        if (leaving) {
          leaving.r.stop();
          readers.delete(leaving);
        }
        join(joined++);
      }
      if (now >= nextSample) {
        nextSample += SAMPLE_S;
        const media = mediaPid(camd);
        rss.daemon.push(rssKiB(camd.pid));
        if (media) rss.media.push(rssKiB(media));
        fds.push(`${(now / 60).toFixed(1)}m ${fdCount(camd.pid)}/${media ? fdCount(media) : '-'}`);
      }
      if (now >= nextSetting) {
        nextSetting += SETTINGS_S;
        settingN++;
        const rebuild = settingN % 3 === 0;
        const [k, value] = rebuild ? [key('streamFramerate'), settingN % 6 === 0 ? 30 : 25] : [key('streamBitrate'), settingN % 2 ? 3_000_000 : 4_000_000];
        const res = await camd.api(`/api/state/${k}`, { method: 'PUT', body: JSON.stringify({ value }) });
        if (!res.ok) console.log(`  setting ${k}=${value}: ${res.status} ${await res.text()}`);
        if (rebuild) {
          // A frame of the new pipeline: captured after the change, and for the rebuilt stream's readers
          // at its new rate (RTP step 90 kHz / fps); the other streams' readers only keep getting frames.
          const step = 90_000 / value;
          const at = Date.now();
          disturbances.push(
            await recovered(
              readers,
              `rebuild (${k}=${value})`,
              now,
              (x) => x.lastCapture > at && (x.path !== last || Math.abs(x.lastStep - step) < step * 0.15),
            ),
          );
        }
      }
      if (now >= nextCrash) {
        nextCrash += CRASH_S;
        const media = mediaPid(camd);
        if (!media) {
          console.log('  no media process to crash');
          continue;
        }
        const at = Date.now();
        process.kill(media, 'SIGKILL');
        // Captured after the kill: only a new media process can have made that frame.
        disturbances.push(await recovered(readers, `media crash (pid ${media})`, now, (x) => x.lastCapture > at));
      }
    }
    const webrtcFrames = webrtc ? await measureWebrtc(webrtc, 3000) : undefined;
    report(rss, fds, disturbances, webrtcFrames, webrtcNote, await camd.describe());
  } finally {
    for (const x of readers) x.r.stop();
    if (webrtc) await stopTree(webrtc, 'SIGTERM', 5000);
    await camd.stop();
  }
}

/** Waits until every reader present now has a frame that `fresh` accepts (or RECOVER_S passes). */
async function recovered(readers: Set<Reader>, what: string, at: number, fresh: (x: Reader) => boolean): Promise<Disturbance> {
  const present = [...readers];
  const start = Date.now();
  // Readers that leave meanwhile are not counted against recovery; those that stay must get frames.
  const pending = () => present.filter((x) => readers.has(x) && !fresh(x));
  while (Date.now() - start < RECOVER_S * 1000 && pending().length > 0) await sleep(50);
  const left = pending().length;
  const stayed = present.filter((x) => readers.has(x)).length;
  const d = { at, what, readers: stayed, recovered: stayed - left, seconds: (Date.now() - start) / 1000 };
  console.log(`  ${(at / 60).toFixed(1)} min ${what}: ${d.recovered}/${d.readers} readers got new frames, the last after ${d.seconds.toFixed(1)} s`);
  return d;
}

async function startWebrtc(camd: Camd, stream: string): Promise<ChildProcess | undefined> {
  if (WEBRTC <= 0) throw new Error('SOAK_WEBRTC=0');
  const enable = await camd.api('/api/state/webrtcEnabled', { method: 'PUT', body: JSON.stringify({ value: true }) });
  if (!enable.ok) throw new Error(`webrtcEnabled: ${enable.status} (plugin-webrtc not loaded?)`);
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'bench/children/webrtc-receivers.ts',
      camd.baseUrl,
      `${BENCH_USER.username}:${BENCH_USER.password}`,
      stream,
      String(WEBRTC),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    new Promise<string>((r) => lines.once('line', r)),
    new Promise<string>((r) => child.once('exit', (code) => r(`exit ${code}`))),
    sleep(120_000).then(() => 'timeout after 120 s'),
  ]);
  if (!first.includes('connected')) {
    await stopTree(child, 'SIGKILL', 1000);
    throw new Error(`receivers did not connect (${first})`);
  }
  (child as ChildProcess & { lines?: typeof lines }).lines = lines;
  return child;
}

async function measureWebrtc(child: ChildProcess, ms: number): Promise<number[] | undefined> {
  const lines = (child as ChildProcess & { lines?: ReturnType<typeof createInterface> }).lines!;
  child.stdin!.write(`measure ${ms}\n`);
  const line = await Promise.race([new Promise<string>((r) => lines.once('line', r)), sleep(ms + 10_000).then(() => '{}')]);
  return (JSON.parse(line) as { frames?: number[] }).frames;
}

function report(
  rss: { daemon: number[]; media: number[] },
  fds: string[],
  disturbances: Disturbance[],
  webrtcFrames: number[] | undefined,
  webrtcNote: string,
  states: string,
): void {
  console.log('\nRSS after warm-up vs end:');
  console.table(
    Object.entries(rss).map(([proc, xs]) => {
      const growth = xs.length ? (100 * (xs.at(-1)! - xs[0]!)) / xs[0]! : Number.NaN;
      return {
        process: proc === 'media' ? 'media process (a new one after each crash)' : 'daemon',
        samples: xs.length,
        'after warm-up MiB': xs.length ? Number(MiB(xs[0]!).toFixed(1)) : '-',
        'end MiB': xs.length ? Number(MiB(xs.at(-1)!).toFixed(1)) : '-',
        'max MiB': xs.length ? Number(MiB(Math.max(...xs)).toFixed(1)) : '-',
        'growth %': Number(growth.toFixed(1)),
        target: `≤ ${TARGET_PERCENT} %`,
        result: growth <= TARGET_PERCENT ? 'pass' : 'FAIL',
      };
    }),
  );
  console.log(`open fds daemon/media over time: ${fds.join(', ')}`);
  const failed = disturbances.filter((d) => d.recovered < d.readers);
  console.log(
    `disturbances: ${disturbances.length}; every reader got frames again after ${disturbances.length - failed.length}; slowest recovery ${Math.max(0, ...disturbances.map((d) => d.seconds)).toFixed(1)} s${failed.length ? `; NOT after: ${failed.map((d) => `${d.what} (${d.recovered}/${d.readers})`).join(', ')}` : ''}`,
  );
  console.log(webrtcFrames ? `WebRTC frames per viewer in the last 3 s: ${webrtcFrames.join(', ')}` : webrtcNote);
  console.log(`stats at the end: ${states}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
