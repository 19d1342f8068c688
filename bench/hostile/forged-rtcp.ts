/**
 * Attack 4 of `pnpm bench hostile-network`: one viewer (a valid Media_r login) sends RTCP receiver
 * reports claiming 25 % loss on its interleaved RTCP channel every 200 ms, while honest readers on
 * another address play and report no loss once a second. The shared encoder's bitrate is read before
 * and during: once from a session that plays, once from a session that was SETUP and never PLAYed.
 */
import { BENCH_USER, type Camd } from '../camd.js';
import { header, RtspClient, RtspCredentials } from '../rtsp-client.js';
import { BenchReader, receiverReport } from '../rtsp-reader.js';
import { apiJson, ATTACKER, basic, http, LEGIT, sleep, VIEWER } from './common.js';

const FORGED_LOSS = 0.25;
const FORGED_EVERY_MS = 200;

export interface BitrateFigures {
  /** The `streamBitrate` setting (what the encoder is told). */
  setting: number;
  /** What the encoder produced over the last 2 s (`/api/stats` currentBitrate). */
  measured: number;
  /** plugin-abr's target, if it reports one. */
  abrTarget?: number;
  abrReason?: string | null;
}

export async function bitrate(camd: Camd, stream = 'stream1'): Promise<BitrateFigures> {
  const stats = await apiJson<Record<string, { currentBitrate?: number; abr?: { target?: number; lastReason?: string | null } }>>(
    camd,
    '/api/stats',
    BENCH_USER,
  );
  const setting = await apiJson<{ value: number }>(camd, '/api/state/streamBitrate', BENCH_USER);
  const s = stats[stream] ?? {};
  return { setting: setting.value, measured: s.currentBitrate ?? NaN, abrTarget: s.abr?.target, abrReason: s.abr?.lastReason };
}

export interface ForgedResult {
  attacker: string;
  before: BitrateFigures;
  lowest: number;
  after: BitrateFigures;
  reportsSent: number;
}

/** The attacker's session that was SETUP (interleaved) and never PLAYed; it sends forged reports until `stop()`. */
async function setupOnly(camd: Camd): Promise<{ stop(): void; sent(): number }> {
  const url = `rtsp://127.0.0.1:${camd.rtspPort}/stream1`;
  const c = await RtspClient.connect(camd.rtspPort, { localAddress: ATTACKER });
  const auth = new RtspCredentials(VIEWER, 'basic');
  const d = await c.authedRequest(auth, 'DESCRIBE', url, { Accept: 'application/sdp' });
  if (d.status !== 200) throw new Error(`DESCRIBE answered ${d.status}`);
  const s = await c.authedRequest(auth, 'SETUP', `${url}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  if (s.status !== 200) throw new Error(`SETUP answered ${s.status}`);
  const ssrc = parseInt(/ssrc=([0-9A-Fa-f]{1,8})/.exec(header(s, 'transport') ?? '')?.[1] ?? '0', 16);
  let sent = 0;
  const t = setInterval(() => {
    c.sendInterleaved(1, receiverReport(ssrc, FORGED_LOSS));
    sent++;
  }, FORGED_EVERY_MS);
  return {
    stop: () => {
      clearInterval(t);
      c.close();
    },
    sent: () => sent,
  };
}

/** The operator's bitrate again (as an operator would set it), so each case starts from it. */
async function resetBitrate(camd: Camd, value: number): Promise<void> {
  await http(`${camd.baseUrl}/api/state/streamBitrate`, {
    method: 'PUT',
    headers: { authorization: basic(BENCH_USER), 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
    localAddress: LEGIT,
  });
}

export async function forgedReports(camd: Camd, seconds: number, honestCount = 3): Promise<ForgedResult[]> {
  const url = `rtsp://127.0.0.1:${camd.rtspPort}/stream1`;
  const nominal = (await bitrate(camd)).setting;
  const honest = Array.from({ length: honestCount }, () => new BenchReader(url, VIEWER, { localAddress: LEGIT, receiverReportMs: 1000 }));
  const out: ForgedResult[] = [];
  try {
    await Promise.all(honest.map((r) => r.start()));
    await sleep(3000);
    // The playing attacker first: when it leaves, its reports leave with it; a session never played
    // may leave its last report behind for a while.
    for (const kind of ['playing session', 'session SETUP, never PLAYed'] as const) {
      await resetBitrate(camd, nominal);
      await sleep(2000);
      const before = await bitrate(camd);
      let attacker: { stop(): void; sent(): number };
      if (kind === 'playing session') {
        const r = new BenchReader(url, VIEWER, { localAddress: ATTACKER, receiverReportMs: FORGED_EVERY_MS, reportedLoss: FORGED_LOSS });
        await r.start();
        attacker = { stop: () => r.stop(), sent: () => r.reportsSent };
      } else {
        attacker = await setupOnly(camd);
      }
      let lowest = before.setting;
      const until = performance.now() + seconds * 1000;
      try {
        while (performance.now() < until) {
          await sleep(1000);
          lowest = Math.min(lowest, (await bitrate(camd).catch(() => before)).setting);
        }
      } finally {
        attacker.stop();
      }
      out.push({ attacker: kind, before, lowest, after: await bitrate(camd), reportsSent: attacker.sent() });
    }
  } finally {
    for (const r of honest) r.stop();
  }
  return out;
}
