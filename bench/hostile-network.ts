/**
 * `pnpm bench hostile-network` (issue 26, "safe on a hostile network"): the attacks of an anonymous
 * or a low-privileged client on the loopback network, against camd and, for the RTSP cases, side by
 * side with gst-rtsp-server (Debian's, bench/gst_rtsp_server.py: same 640x360@30 stream, Digest
 * authentication, backlog 1024), in one run. The attacker is 127.0.0.1, a legitimate client
 * 127.0.0.2. Prints a table per attack; asserts nothing.
 *
 * 1. Pipelined requests never read (8 connections, HOSTILE_PIPELINE_S = 20 s): RTSP `OPTIONS *`,
 *    HTTP `GET /api/health`, the POST side of RTSP over HTTP: server RSS at idle, peak, 5 s after
 *    (camd: daemon and media process apart; a fresh daemon each, stopped past 2 GiB).
 * 2. One address holds HOSTILE_HOLD = 1,100 RTSP connections after one OPTIONS each (and replaces
 *    those the server closes): a reader from 127.0.0.2 plays stream1, frames and fps vs nominal.
 * 3. A password flood from one address, HOSTILE_GUESS_PARALLEL = 100 connections for HOSTILE_GUESS_S
 *    = 15 s, each protocol on a fresh daemon (a lockout from one flood would blur the next): guesses
 *    that reached a password check per second, and a correct login from 127.0.0.2 every second.
 * 4. Forged receiver reports (25 % loss, every 200 ms) from one viewer's session, playing and SETUP
 *    only, while 3 honest readers report none: the encoder's bitrate before and during.
 * 5. A publish target `rtsp://pub:pw@127.0.0.9:9/live/SECRETKEY?auth=abc` (nothing listens there):
 *    which anonymous answers name its host, user, password, path or query.
 *    Then HOSTILE_STREAMS = 200 SSE feeds and 200 MJPEG streams as one Media_r user: how many are admitted.
 * 6. `PUT streamResolution 7680x7680` by an operator on the default config (every plugin, both
 *    streams): the answer, pipeline restarts and the media process's RSS over the next 10 s.
 * 7. As 2, on camd's RTSPS port: HOSTILE_HOLD connections that begin a TLS handshake and never finish
 *    it, beside the plain-RTSP hold on the same daemon: its RSS, and a reader from 127.0.0.2 over
 *    RTSPS (certificate verified) and over RTSP.
 *
 * HOSTILE_SECTIONS=1,3 runs some of them.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_CONFIG, daemonMode, startCamd } from './camd.js';
import { anonymousExposure, PUBLISH_TARGET } from './hostile/exposure.js';
import { forgedReports } from './hostile/forged-rtcp.js';
import { authFigures, passwordFlood, type GuessResult, type Protocol } from './hostile/guess.js';
import { ConnectionHolder, legitRead } from './hostile/hold.js';
import { hugeSetting } from './hostile/huge-setting.js';
import { pipelineFlood, type PipelineKind } from './hostile/pipelining.js';
import { manyStreams } from './hostile/streams-per-user.js';
import { ADMIN, mib, openFds, openFileLimit, pct, rssOf, rssSampler, section, sleep, startGst, VIEWER, type Gst } from './hostile/common.js';
import { median } from './proc.js';

const num = (name: string, d: number) => Number(process.env[name] ?? d);
const PIPELINE_S = num('HOSTILE_PIPELINE_S', 20);
const HOLD = num('HOSTILE_HOLD', 1100);
const READ_S = num('HOSTILE_READ_S', 10);
const GUESS_S = num('HOSTILE_GUESS_S', 15);
const GUESS_PARALLEL = num('HOSTILE_GUESS_PARALLEL', 100);
const FORGE_S = num('HOSTILE_FORGE_S', 15);
const STREAMS = num('HOSTILE_STREAMS', 200);
const WATCH_S = num('HOSTILE_WATCH_S', 10);
const SECTIONS = (process.env.HOSTILE_SECTIONS ?? '1,2,3,4,5,6,7').split(',').map(Number);
/** A daemon past this RSS is not let grow further (the machine is shared). */
const RSS_CAP_MIB = 2048;

/** The stream both servers serve: the same source, size, rate and encoder settings. */
const STREAM = { width: 640, height: 360, fps: 30, kbps: 2000 };
// Noise, so that the encoder's output follows its bitrate setting (a moving ball needs a tenth of it).
const STREAM1 = { path: '/stream1', resolution: '640x360', fps: 30, bitrate: 2_000_000, profile: 'main', preset: 'ultrafast', source: 'videotestsrc:snow' };
const MJPEG_STREAM = { path: '/stream2', resolution: '320x240', fps: 5, bitrate: 1_000_000, codec: 'mjpeg', source: 'videotestsrc:ball' };

/** camd with every network-facing plugin, listening on loopback only (no WS-Discovery multicast). */
function lightConfig(opts: { publish?: boolean; mjpeg?: boolean } = {}): Record<string, unknown> {
  return {
    plugins: [
      { name: '@camd/plugin-rtsp', options: { host: '127.0.0.1' } },
      { name: '@camd/plugin-onvif', options: { discoveryPort: 0 } },
      '@camd/plugin-webrtc',
      '@camd/plugin-abr',
      ...(opts.publish ? [{ name: '@camd/plugin-publish', options: { targets: [{ stream: 'stream1', url: PUBLISH_TARGET }] } }] : []),
    ],
    rtsp: { enabled: true, streams: opts.mjpeg ? [STREAM1, MJPEG_STREAM] : [STREAM1] },
    users: [VIEWER, ADMIN],
  };
}

/** The shipped default config, bound to loopback and without WS-Discovery (its multicast could leave the machine). */
function defaultConfig(): Record<string, unknown> {
  const cfg = JSON.parse(readFileSync(DEFAULT_CONFIG, 'utf8')) as { plugins: Array<{ name: string; options?: object }> };
  for (const p of cfg.plugins) {
    if (p.name === '@camd/plugin-rtsp') p.options = { ...p.options, host: '127.0.0.1' };
    if (p.name === '@camd/plugin-onvif') p.options = { ...p.options, discoveryPort: 0 };
  }
  return { ...cfg, users: [VIEWER, ADMIN] };
}

async function idleRss(pid: number): Promise<{ own: number; children: number }> {
  const xs: Array<{ own: number; children: number }> = [];
  for (let i = 0; i < 5; i++, await sleep(200)) xs.push(rssOf(pid));
  return { own: median(xs.map((x) => x.own)), children: median(xs.map((x) => x.children)) };
}

async function withGst<T>(run: (gst: Gst) => Promise<T>): Promise<T> {
  const gst = await startGst(STREAM, VIEWER);
  try {
    return await run(gst);
  } finally {
    await gst.stop();
  }
}

async function attackPipelining(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const what: Record<PipelineKind, string> = {
    rtsp: 'RTSP OPTIONS *',
    http: 'HTTP GET /api/health',
    tunnel: 'RTSP over HTTP, POST side',
  };
  const measure = async (server: string, kind: PipelineKind, pid: number, port: number, exited: () => boolean) => {
    const idle = await idleRss(pid);
    const sampler = rssSampler(pid);
    const r = await pipelineFlood(kind, port, PIPELINE_S, { stopIf: () => (rssOf(pid).own > RSS_CAP_MIB ? `stopped at ${RSS_CAP_MIB} MiB` : undefined) });
    // The peak of the attack and the 5 s after it: a server may go on answering what it queued.
    await sleep(5000);
    const peak = sampler.stop();
    const after = rssOf(pid);
    const media = server === 'camd' ? `${mib(idle.children)} / ${mib(peak.children)} / ${mib(after.children)}` : '(same process)';
    rows.push({
      server,
      attack: `8 × ${what[kind]}`,
      'RSS idle MiB': mib(idle.own),
      'peak MiB': mib(peak.own),
      'after MiB': mib(after.own),
      'peak − idle': mib(peak.own - idle.own),
      'media idle/peak/after': media,
      'requests taken MiB': mib(r.sentMiB),
      'closed by server': `${r.closedByServer}/${r.connected}`,
      note: [r.stoppedEarly, exited() ? 'server exited' : ''].filter(Boolean).join('; ') || `${r.seconds.toFixed(0)} s`,
    });
  };
  for (const kind of ['rtsp', 'http', 'tunnel'] as const) {
    const camd = await startCamd(lightConfig());
    try {
      await measure('camd', kind, camd.pid, kind === 'http' ? Number(new URL(camd.baseUrl).port) : camd.rtspPort, () => camd.child.exitCode !== null);
    } finally {
      await camd.stop();
    }
  }
  await withGst(async (gst) => {
    for (const kind of ['rtsp', 'tunnel'] as const) await measure('gst-rtsp-server', kind, gst.pid, gst.port, () => gst.child.exitCode !== null);
  });
  console.table(rows);
  console.log('  target: camd peak ≤ idle + 16 MiB (gst-rtsp-server, issue 26: +0.5 MB)');
}

async function attackHold(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const run = async (server: string, port: number, pid: number, scheme: 'basic' | 'digest') => {
    const holder = new ConnectionHolder(port, HOLD);
    try {
      await holder.start();
      const openAtStart = holder.openNow;
      const read = await legitRead(`rtsp://127.0.0.1:${port}/stream1`, VIEWER, scheme, READ_S);
      const fds = openFds(pid);
      rows.push({
        server,
        'attacker conns open (start/end)': `${openAtStart}/${holder.openNow}`,
        'answered / closed or refused by server / replaced': `${holder.answered} / ${holder.closedByServer + holder.refused} / ${holder.reopened}`,
        'server fds at end (limit)': `${fds} (${openFileLimit(pid)})`,
        'reader from 127.0.0.2': read.outcome,
        'first frame ms': read.firstFrameMs === undefined ? '-' : Math.round(read.firstFrameMs),
        [`frames in ${READ_S} s`]: read.frames,
        fps: read.fps.toFixed(1),
        'of nominal': pct(read.fps / STREAM.fps),
      });
    } finally {
      holder.stop();
    }
  };
  const camd = await startCamd(lightConfig());
  try {
    await run('camd', camd.rtspPort, camd.pid, 'basic');
  } finally {
    await camd.stop();
  }
  await withGst((gst) => run('gst-rtsp-server', gst.port, gst.pid, 'digest'));
  console.log(`  the bench's own open-file limit: ${openFileLimit(process.pid)}`);
  console.table(rows);
  console.log(`  target: the reader plays at ≥ 95 % of ${STREAM.fps} fps`);
}

/** 7: TLS handshakes begun and never finished, beside the plain hold of 2, on one daemon (camd only: the reference has no RTSPS). */
async function attackHandshakes(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const camd = await startCamd(lightConfig());
  try {
    const ca = readFileSync(camd.caFile, 'utf8');
    const cases = [
      { attack: `${HOLD} × RTSP, one OPTIONS each`, port: camd.rtspPort, hold: 'options' as const, url: `rtsp://127.0.0.1:${camd.rtspPort}/stream1` },
      {
        attack: `${HOLD} × RTSPS, a handshake never finished`,
        port: camd.rtspsPort,
        hold: 'handshake' as const,
        url: `rtsps://127.0.0.1:${camd.rtspsPort}/stream1`,
      },
    ];
    for (const c of cases) {
      const idle = await idleRss(camd.pid);
      const sampler = rssSampler(camd.pid);
      const holder = new ConnectionHolder(c.port, HOLD, c.hold);
      try {
        await holder.start();
        const openAtStart = holder.openNow;
        const read = await legitRead(c.url, VIEWER, 'basic', READ_S, ca);
        const peak = sampler.stop();
        rows.push({
          attack: c.attack,
          'RSS idle / peak MiB': `${mib(idle.own)} / ${mib(peak.own)}`,
          'attacker conns open (start/end)': `${openAtStart}/${holder.openNow}`,
          'closed or refused by server / replaced': `${holder.closedByServer + holder.refused} / ${holder.reopened}`,
          'reader from 127.0.0.2': `${c.url.split(':')[0]}: ${read.outcome}`,
          'first frame ms': read.firstFrameMs === undefined ? '-' : Math.round(read.firstFrameMs),
          fps: read.fps.toFixed(1),
          'of nominal': pct(read.fps / STREAM.fps),
        });
      } finally {
        holder.stop();
      }
      await sleep(2000);
    }
  } finally {
    await camd.stop();
  }
  console.table(rows);
  console.log(`  target: as in 2, the reader plays at ≥ 95 % of ${STREAM.fps} fps`);
}

function guessRow(server: string, protocol: Protocol, r: GuessResult): Record<string, string | number> {
  const checked = r.answers.get('401') ?? 0;
  const total = [...r.answers.values()].reduce((a, b) => a + b, 0);
  const afterTen = r.checkedAt.length > 10 ? (r.checkedAt.length - 10) / Math.max(0.001, r.seconds - r.checkedAt[9]!) : 0;
  const ok = r.legit.filter((x): x is number => typeof x === 'number');
  const failed = r.legit.filter((x): x is string => typeof x === 'string');
  const others = [...r.answers].filter(([k]) => k !== '401').map(([k, v]) => `${k}: ${v}`);
  return {
    server,
    flood: protocol,
    answers: total,
    'checked (401)/s': (checked / r.seconds).toFixed(1),
    '…after the first 10': afterTen.toFixed(1),
    'other answers': others.join(', ') || '-',
    // The first login pays for a password check in the flood's queue; later ones may reuse the daemon's memory of a good one.
    'login from 127.0.0.2 first/p50/max ms': ok.length
      ? `${typeof r.legit[0] === 'number' ? Math.round(r.legit[0]) : 'failed'} / ${Math.round(median(ok))} / ${Math.round(Math.max(...ok))}`
      : '-',
    'logins failed': failed.length ? `${failed.length}/${r.legit.length}: ${[...new Set(failed)].slice(0, 2).join('; ')}` : `0/${r.legit.length}`,
  };
}

async function attackGuessing(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  const figures: string[] = [];
  for (const protocol of ['HTTP Basic', 'RTSP Digest', 'RTSP Basic', 'ONVIF PasswordText'] as const) {
    const camd = await startCamd(lightConfig());
    try {
      const before = await authFigures(camd);
      const r = await passwordFlood(
        { protocol, baseUrl: camd.baseUrl, rtspPort: camd.rtspPort, rtspUrl: `rtsp://127.0.0.1:${camd.rtspPort}/stream1` },
        GUESS_S,
        GUESS_PARALLEL,
      );
      const after = await authFigures(camd);
      rows.push(guessRow('camd', protocol, r));
      figures.push(`  camd ${protocol}: the daemon's own figures before ${short(before)} after ${short(after)}`);
    } finally {
      await camd.stop();
    }
  }
  await withGst(async (gst) => {
    const r = await passwordFlood({ protocol: 'RTSP Digest', rtspPort: gst.port, rtspUrl: `rtsp://127.0.0.1:${gst.port}/stream1` }, GUESS_S, GUESS_PARALLEL);
    rows.push(guessRow('gst-rtsp-server', 'RTSP Digest', r));
  });
  console.log(
    `  ${GUESS_PARALLEL} connections from 127.0.0.1 guess viewer's password for ${GUESS_S} s (a new wrong one each time); viewer logs in from 127.0.0.2 every second`,
  );
  console.table(rows);
  for (const f of figures) console.log(f);
  console.log('  target: after 10 failures ≤ 1 guess/s checked; a correct login from another address answered within 1 s');
}

const short = (x: Record<string, unknown>) => {
  const s = JSON.stringify(x);
  return s === '{}' ? '(none exposed)' : s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

async function attacksOnOneDaemon(): Promise<void> {
  const camd = await startCamd(lightConfig({ publish: true, mjpeg: true }), { ready: 'frames' });
  try {
    if (SECTIONS.includes(5)) {
      await section('5. anonymous answers about a publish target', async () => {
        console.log(`  target: ${PUBLISH_TARGET} (nothing listens there)`);
        console.table(await anonymousExposure(camd));
        console.log('  target: no anonymous answer names any part of it');
      });
      await section(`5b. ${STREAMS} SSE feeds and ${STREAMS} MJPEG streams as one Media_r user (from 127.0.0.1)`, async () => {
        const rows: Record<string, string | number>[] = [];
        for (const [what, path, first] of [
          ['SSE /api/events', '/api/events', /event: snapshot/],
          ['MJPEG /api/streams/stream2/mjpeg', '/api/streams/stream2/mjpeg', /--camdframe/],
        ] as const) {
          const r = await manyStreams(camd, path, first, STREAMS, 3);
          rows.push({
            streams: what,
            asked: STREAMS,
            admitted: r.admitted,
            'other answers': [...r.others].map(([k, v]) => `${k}: ${v}`).join(', ') || '-',
            'daemon RSS idle MiB': mib(r.rssIdle),
            'peak MiB': mib(r.rssPeak),
          });
          await sleep(2000);
        }
        console.table(rows);
      });
    }
    if (SECTIONS.includes(4)) {
      await section('4. forged receiver reports from one viewer', async () => {
        const rows = (await forgedReports(camd, FORGE_S)).map((r) => ({
          'forging session': r.attacker,
          'reports sent': r.reportsSent,
          'streamBitrate before': r.before.setting,
          [`lowest in ${FORGE_S} s`]: r.lowest,
          after: r.after.setting,
          'encoder measured before/after kbit/s': `${Math.round(r.before.measured / 1000)} / ${Math.round(r.after.measured / 1000)}`,
          'ABR target after': r.after.abrTarget ?? '-',
          'ABR reason': r.after.abrReason ?? '-',
        }));
        console.log('  3 honest readers from 127.0.0.2 report 0 % loss every second; the forger (viewer, 127.0.0.1) 25 % every 200 ms');
        console.table(rows);
        console.log('  target: streamBitrate unchanged');
      });
    }
  } finally {
    await camd.stop();
  }
}

async function attackHugeSetting(): Promise<void> {
  const camd = await startCamd(defaultConfig());
  try {
    await sleep(3000);
    const r = await hugeSetting(camd, 'streamResolution', '7680x7680', WATCH_S);
    console.table([
      {
        'PUT streamResolution 7680x7680': r.status,
        message: r.message || '-',
        [`pipeline starts in ${WATCH_S} s`]: r.pipelineStarts,
        'restarts before/after': `${r.restartsBefore} / ${r.restartsAfter}`,
        'states seen': r.states.join(', ') || '-',
        '/api/stats answered': r.statsAnswered,
        'media RSS idle/peak MiB': `${mib(r.mediaIdle)} / ${mib(r.mediaPeak)}`,
        'daemon peak MiB': mib(r.daemonPeak),
      },
    ]);
    console.log('  target: 400, nothing restarted');
  } finally {
    await camd.stop();
  }
}

export async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(`camd runs as: ${daemonMode()}; attacker 127.0.0.1, legitimate client 127.0.0.2; sections ${SECTIONS.join(',')}`);
  if (SECTIONS.includes(1)) await section(`1. ${PIPELINE_S} s of pipelined requests never read (RSS in MiB)`, attackPipelining);
  if (SECTIONS.includes(2)) await section(`2. one address holds ${HOLD} RTSP connections, a reader plays from another`, attackHold);
  if (SECTIONS.includes(3)) await section('3. password flood from one address', attackGuessing);
  if (SECTIONS.includes(4) || SECTIONS.includes(5)) await attacksOnOneDaemon().catch((err) => console.log(`  sections 4-5 failed: ${(err as Error).stack}`));
  if (SECTIONS.includes(6)) await section('6. an operator sets streamResolution 7680x7680 (default config)', attackHugeSetting);
  if (SECTIONS.includes(7))
    await section(`7. one address holds ${HOLD} TLS handshakes it never finishes, beside ${HOLD} plain RTSP connections`, attackHandshakes);
  console.log(`\nhostile-network: ${((performance.now() - t0) / 1000).toFixed(0)} s in all`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
