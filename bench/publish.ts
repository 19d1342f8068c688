/**
 * plugin-publish: what one publish target costs and the latency it adds, per protocol. One camd host
 * (in this process; its media process apart) encodes 640x360@30 noise at 4 Mbit/s with the time code
 * of plugin-timestamp; one target at a time pushes it to a real server on loopback:
 * - RTSP RECORD → gst-rtsp-server in RECORD mode for CPU; ffmpeg -rtsp_flags listen for latency (it
 *   decodes and hands grey frames to this process);
 * - RTMP → nginx-rtmp, read back with ffmpeg;
 * - SRT → srt-live-transmit (listener → listener), read back with ffmpeg.
 * CPU per target = (this process + the target's muxer child) with the target − without any target,
 * in % of one core. Latency = time a decoded frame reaches this process − capture time in its picture
 * (median and p90); it includes the receiving server and ffmpeg's decoder, so compare the protocols.
 * Prints; asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestHost, freePort, testStream, until, type TestHost } from '../packages/core/src/testing/index.js';
import publish from '../packages/plugin-publish/src/index.js';
import timestamp, { timecodeFrames } from '../packages/plugin-timestamp/src/index.js';
import { cpuSeconds, median, percentile, treePids } from './proc.js';

const W = 640;
const H = 360;
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of this process and of its gst-launch muxer children (not the servers it started). */
function publishCpu(): number {
  let total = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  for (const pid of treePids(process.pid)) {
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gdpdepay')) total += cpuSeconds(pid);
    } catch {
      /* gone */
    }
  }
  return total;
}

/** Reads grey frames of W×H from an ffmpeg whose input is `input` and collects time-code latencies. */
function latencyReader(input: string[]): { proc: ChildProcess; latencies: number[] } {
  const proc = spawn(
    'ffmpeg',
    // Low-delay flags and a short probe, so that ffmpeg's own buffering is not what we measure.
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-fflags',
      'nobuffer',
      '-flags',
      'low_delay',
      '-probesize',
      '65536',
      '-analyzeduration',
      '0',
      ...input,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const latencies: number[] = [];
  proc.stdout!.on(
    'data',
    timecodeFrames(W, H, (embedded, now) => {
      if (embedded !== undefined) latencies.push(now - embedded);
    }),
  );
  return { proc, latencies };
}

interface Case {
  name: string;
  /**
   * Starts the receiving server; returns the target URL, the reader's ffmpeg input, and a stop. With
   * `latencyUrl`, the latency phase publishes there instead (ffmpeg listening is the server and the
   * reader at once, and it must listen before the target connects).
   */
  setup(): Promise<{ url: string; input: string[]; latencyUrl?: string; stop: () => void }>;
}

const cases: Case[] = [
  {
    name: 'rtsp (TCP)',
    async setup() {
      const [port, listen] = [await freePort(), await freePort()];
      const server = spawn('/usr/bin/python3', [join(import.meta.dirname, '../packages/plugin-publish/src/fixtures/record_server.py'), String(port), '/cam'], {
        stdio: 'ignore',
      });
      await sleep(1500);
      return {
        url: `rtsp://127.0.0.1:${port}/cam`,
        latencyUrl: `rtsp://127.0.0.1:${listen}/live`,
        input: ['-rtsp_flags', 'listen', '-i', `rtsp://127.0.0.1:${listen}/live`],
        stop: () => server.kill('SIGKILL'),
      };
    },
  },
  {
    name: 'rtmp (nginx-rtmp)',
    async setup() {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'camd-bench-nginx-'));
      writeFileSync(
        join(dir, 'nginx.conf'),
        `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log stderr error;
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so; events { worker_connections 64; }
rtmp { server { listen 127.0.0.1:${port}; application live { live on; record off; } } }\n`,
      );
      const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'ignore' });
      await sleep(500);
      return {
        url: `rtmp://127.0.0.1:${port}/live/cam`,
        input: ['-i', `rtmp://127.0.0.1:${port}/live/cam`],
        stop: () => {
          nginx.kill('SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'srt (srt-live-transmit)',
    async setup() {
      const [a, b] = [await freePort(), await freePort()];
      const relay = spawn('srt-live-transmit', ['-q', `srt://:${a}?mode=listener`, `srt://:${b}?mode=listener`], { stdio: 'ignore' });
      await sleep(500);
      return { url: `srt://127.0.0.1:${a}`, input: ['-i', `srt://127.0.0.1:${b}?mode=caller`], stop: () => relay.kill('SIGKILL') };
    },
  },
];

export async function main(): Promise<void> {
  let host: TestHost | undefined;
  try {
    host = await createTestHost({
      plugins: [
        { def: timestamp, options: { timecode: true } },
        { def: publish, options: { confirmMs: 1000 } },
      ],
      config: { streams: [testStream({ resolution: `${W}x${H}`, fps: 30, bitrate: 4_000_000, source: 'videotestsrc:snow', profile: 'main' })] },
    });
    await host.host.hub.waitForParameters('stream1', 20_000);
    await sleep(2000);
    let c0 = publishCpu();
    await sleep(WINDOW_S * 1000);
    const idle = (publishCpu() - c0) / WINDOW_S;
    console.log(`  stream: ${W}x${H}@30 noise, 4 Mbit/s; this process without targets: ${(idle * 100).toFixed(1)} % of a core`);
    for (const c of cases) {
      const server = await c.setup();
      let reader: ReturnType<typeof latencyReader> | undefined;
      const h = host;
      try {
        // CPU: the target alone (no reader in this process).
        await h.host.state.set('publishTargets', [{ stream: 'stream1', url: server.url }]);
        await until(async () => (await targetStats(h))?.state === 'publishing', 20_000, `${c.name} to publish`);
        await sleep(2000);
        c0 = publishCpu();
        await sleep(WINDOW_S * 1000);
        const cpu = (publishCpu() - c0) / WINDOW_S;
        const t = await targetStats(h);
        // Latency: frames read back through the server.
        if (server.latencyUrl) {
          reader = latencyReader(server.input);
          await sleep(500);
          await h.host.state.set('publishTargets', [{ stream: 'stream1', url: server.latencyUrl }]);
        } else {
          reader = latencyReader(server.input);
        }
        const r = reader;
        await until(() => r.latencies.length > 10, 20_000, `${c.name}: decoded frames with a time code`);
        const l0 = r.latencies.length;
        await sleep(WINDOW_S * 1000);
        const lat = r.latencies.slice(l0);
        console.log(
          `  ${c.name.padEnd(24)} CPU per target ${((cpu - idle) * 100).toFixed(1).padStart(5)} % of a core ` +
            `(${((t?.bitrate ?? 0) / 1e6).toFixed(2)} Mbit/s sent, ${t?.framesDropped ?? 0} frames dropped); ` +
            `capture → read back: median ${median(lat).toFixed(0)} ms, p90 ${percentile(lat, 0.9).toFixed(0)} ms (${lat.length} frames)`,
        );
      } catch (err) {
        console.log(`  ${c.name}: ${(err as Error).message}`);
      } finally {
        await host.host.state.set('publishTargets', []);
        reader?.proc.kill('SIGKILL');
        server.stop();
        await sleep(1000);
      }
    }
  } finally {
    await host?.close();
  }
}

async function targetStats(h: TestHost): Promise<{ state: string; bitrate: number; framesDropped: number } | undefined> {
  const r = (await (await h.fetch('/api/stats')).json()) as Record<
    string,
    { publish?: { targets: { state: string; bitrate: number; framesDropped: number }[] } }
  >;
  return r.stream1?.publish?.targets[0];
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
