/**
 * Attack 6 of `pnpm bench hostile-network`: an operator (Media_rw) sets `streamResolution` far beyond
 * what the source and encoder can do. The answer, then for `watchS` seconds: whether the stream's
 * pipeline started again (its `starting pipeline` log lines, /api/stats restarts and state), whether
 * /api/stats still answers, and the media process's RSS.
 */
import { BENCH_USER, type Camd } from '../camd.js';
import { apiJson, basic, http, LEGIT, rssOf, rssSampler, sleep } from './common.js';

export interface HugeSettingResult {
  status: number | string;
  message: string;
  pipelineStarts: number;
  restartsBefore: number;
  restartsAfter: number | string;
  states: string[];
  statsAnswered: string;
  mediaIdle: number;
  mediaPeak: number;
  daemonPeak: number;
}

type StreamStats = { restarts?: number; state?: string; fps?: number; width?: number; height?: number };

/** `starting pipeline` lines of `stream` in the daemon's debug log. */
function pipelineStarts(camd: Camd, stream: string): number {
  let n = 0;
  for (const line of camd.output().split('\n')) {
    if (!line.includes('starting pipeline')) continue;
    try {
      if ((JSON.parse(line) as { stream?: string }).stream === stream) n++;
    } catch {
      /* not a log line */
    }
  }
  return n;
}

export async function hugeSetting(camd: Camd, key: string, value: unknown, watchS: number, stream = 'stream1'): Promise<HugeSettingResult> {
  const before = (await apiJson<Record<string, StreamStats>>(camd, '/api/stats', BENCH_USER))[stream] ?? {};
  const startsBefore = pipelineStarts(camd, stream);
  const mediaIdle = rssOf(camd.pid).children;
  const sampler = rssSampler(camd.pid);
  let status: number | string;
  let message = '';
  try {
    const a = await http(`${camd.baseUrl}/api/state/${key}`, {
      method: 'PUT',
      headers: { authorization: basic(BENCH_USER), 'content-type': 'application/json' },
      body: JSON.stringify({ value }),
      localAddress: LEGIT,
      timeoutMs: 10_000,
    });
    status = a.status;
    message = (JSON.parse(a.body) as { message?: string }).message ?? '';
  } catch (err) {
    status = (err as Error).message;
  }
  const states = new Set<string>();
  let answered = 0;
  let asked = 0;
  let last: StreamStats | undefined;
  const until = performance.now() + watchS * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    asked++;
    try {
      last = (await apiJson<Record<string, StreamStats>>(camd, '/api/stats', BENCH_USER, 3000))[stream];
      answered++;
      if (last?.state) states.add(`${last.state}${last.width ? ` ${last.width}x${last.height}` : ''}`);
    } catch {
      /* counted as not answered */
    }
    await sleep(Math.max(0, 1000 - (performance.now() - t)));
  }
  const peak = sampler.stop();
  return {
    status,
    message: message.slice(0, 120),
    pipelineStarts: pipelineStarts(camd, stream) - startsBefore,
    restartsBefore: before.restarts ?? NaN,
    restartsAfter: last?.restarts ?? 'no answer',
    states: [...states],
    statsAnswered: `${answered}/${asked} within 3 s`,
    mediaIdle,
    mediaPeak: peak.children,
    daemonPeak: peak.own,
  };
}
