/**
 * `pnpm bench soak-memory` (runs only when named): does camd's memory stay flat? The default config
 * (every plugin, both default streams) with one ffmpeg RTSP/TCP reader per stream, for SOAK_MINUTES
 * (default 10). After a warm-up (SOAK_WARMUP s, default 60) it samples the RSS of the daemon and of the
 * media process every SOAK_INTERVAL s (default 30) and prints first/last/max and the growth (last vs
 * first; target: within 5 %). SOAK_SHARED=1 puts both streams on one source (as on a camera, where
 * the default config shares /dev/video0's capture). Prints; asserts nothing.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, daemonMode, startCamd, startFfmpegReader } from './camd.js';
import { MiB, processLabel, pssKiB, rssKiB, stopTree, treePids } from './proc.js';

export const onlyWhenNamed = true;

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const WARMUP_S = Number(process.env.SOAK_WARMUP ?? 60);
const INTERVAL_S = Number(process.env.SOAK_INTERVAL ?? 30);
const TARGET_PERCENT = 5;

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

export async function main(): Promise<void> {
  console.log(
    `camd runs as: ${daemonMode()}; default config${process.env.SOAK_SHARED === '1' ? ' with both streams on one source' : ''}, 1 RTSP reader per stream; ${MINUTES} min after ${WARMUP_S} s warm-up, a sample every ${INTERVAL_S} s`,
  );
  const config = JSON.parse(readFileSync(DEFAULT_CONFIG, 'utf8')) as { rtsp: { streams: Array<Record<string, unknown>> } };
  if (process.env.SOAK_SHARED === '1') config.rtsp.streams = config.rtsp.streams.map((s) => ({ ...s, source: 'videotestsrc:smpte' }));
  const camd = await startCamd(config);
  const readers = ['/stream1', '/stream2'].map((p) => startFfmpegReader(camd.rtspUrl(p)));
  const series = new Map<string, { rss: number[]; pss: number[] }>();
  const fpsSeen: Record<string, number[]> = {};
  try {
    await sleep(WARMUP_S);
    const samples = Math.floor((MINUTES * 60) / INTERVAL_S) + 1;
    for (let i = 0; i < samples; i++) {
      if (i > 0) await sleep(INTERVAL_S);
      for (const pid of treePids(camd.pid)) {
        // The daemon, and the media process by its entry; anything else (a restarted process) by pid.
        const label = pid === camd.pid ? 'daemon' : /media-host/.test(processLabel(pid)) ? 'media process' : `${processLabel(pid)} (${pid})`;
        const s = series.get(label) ?? { rss: [], pss: [] };
        try {
          s.rss.push(rssKiB(pid));
          s.pss.push(pssKiB(pid));
        } catch {
          continue;
        }
        series.set(label, s);
      }
      for (const [k, v] of Object.entries(await camd.fps())) (fpsSeen[k] ??= []).push(v);
      const states = await camd.describe();
      if (/starting|stalled|restarting|stopped/.test(states) || /\b[1-9]\d* restarts/.test(states)) console.log(`  stats: ${states}`);
      const line = [...series].map(([k, v]) => `${k} ${MiB(v.rss.at(-1)!).toFixed(1)}`).join(', ');
      console.log(`  ${((i * INTERVAL_S) / 60).toFixed(1).padStart(5)} min  RSS MiB: ${line}`);
      for (const r of readers) if (r.exitCode !== null) console.log(`  note: an RTSP reader exited (${r.exitCode})`);
    }
  } finally {
    await Promise.all(readers.map((r) => stopTree(r, 'SIGKILL', 2000)));
    await camd.stop();
  }
  const rows = [...series].map(([proc, { rss, pss }]) => {
    const growth = (100 * (rss.at(-1)! - rss[0]!)) / rss[0]!;
    return {
      process: proc,
      samples: rss.length,
      'RSS first MiB': Number(MiB(rss[0]!).toFixed(1)),
      'RSS last MiB': Number(MiB(rss.at(-1)!).toFixed(1)),
      'RSS max MiB': Number(MiB(Math.max(...rss)).toFixed(1)),
      'growth %': Number(growth.toFixed(1)),
      'PSS first→last MiB': `${MiB(pss[0]!).toFixed(0)}→${MiB(pss.at(-1)!).toFixed(0)}`,
      target: `within ${TARGET_PERCENT} %`,
      result: Math.abs(growth) <= TARGET_PERCENT ? 'pass' : 'FAIL',
    };
  });
  console.table(rows);
  console.log(
    `fps over the run (min per stream): ${Object.entries(fpsSeen)
      .map(([k, v]) => `${k} ${Math.min(...v)}`)
      .join(', ')}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
