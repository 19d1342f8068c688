/**
 * camd's WebRTC fan-out against Janus's (the anchor), in one run on this machine: the same werift
 * receivers (bench/children/anchor-receivers.ts, one process) watch one 720p30 4 Mbit/s stream, first
 * from Debian's Janus streaming plugin (which pulls camd's RTSP once), then from camd itself, at 25
 * and 50 viewers. Per server: CPU of its own process (the encoder runs in camd's media process and
 * is not counted on either side), RSS, UDP packets the receivers' sockets dropped (their receive
 * buffers overflowed: /proc/net/udp `drops` of the receiver process's sockets), and each viewer's
 * frame rate. Prints; asserts nothing.
 *
 * Janus gathers no ICE candidates on `lo`: a veth interface with a loopback-range address
 * (127.1.0.1) gives it one, removed afterwards. Everything stays on this machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../packages/core/src/testing/index.js';
import { startDaemon } from '../apps/daemon/test/daemon-process.js';
import { cpuSeconds, median, MiB, percentile, rssKiB } from './proc.js';

const STEPS = (process.env.BENCH_VIEWERS ?? '25,50').split(',').map(Number);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 10_000);
/** Runs of each server, alternating (Janus, camd, Janus, camd, …): the spread between runs is printed. */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SERVERS = (process.env.BENCH_SERVERS ?? 'janus,camd').split(',');
const FPS = 30;
const USER = { username: 'bench', password: 'bench-secret' };
const LINK = 'camdanchor0';
const JANUS_ADDRESS = '127.1.0.1';
const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  viewers: number;
  cpuPerViewer: number;
  rssPerViewerMiB: number;
  rssMiB: number;
  drops: number;
  packets: number;
  minFps: number;
  medianFps: number;
  /** NACKed packets the receivers asked for (werift's receivers ask for every gap). */
  nacks: number;
}

type Server = 'janus' | 'camd';

export async function main(): Promise<void> {
  const removeLink = addDummyLink();
  const rtspPort = await freePort();
  const d = await startDaemon({
    users: [{ ...USER, permissions: ['Media_rw'] }],
    plugins: [
      { name: '@camd/plugin-webrtc', options: { maxViewers: 500, maxViewersPerUser: 500 } },
      { name: '@camd/plugin-rtsp', options: { host: '127.0.0.1' } },
    ],
    rtsp: { port: rtspPort },
    streams: [{ path: '/stream2', resolution: '1280x720', fps: FPS, bitrate: 4_000_000, profile: 'main', source: 'videotestsrc' }],
  });
  const auth = { authorization: 'Basic ' + Buffer.from(`${USER.username}:${USER.password}`).toString('base64'), 'content-type': 'application/json' };
  const put = (key: string, value: unknown) => fetch(`${d.baseUrl}/api/state/${key}`, { method: 'PUT', headers: auth, body: JSON.stringify({ value }) });
  await put('webrtcEnabled', true);
  await put('webrtcIceServers', []);
  // rows[server][step] = one Figures per run
  const rows: Record<Server, Figures[][]> = { janus: STEPS.map(() => []), camd: STEPS.map(() => []) };
  try {
    for (let run = 1; run <= RUNS; run++) {
      if (SERVERS.includes('janus')) {
        // camd only encodes and serves Janus one RTSP reader meanwhile.
        const janus = await startJanus(`rtsp://${USER.username}:${USER.password}@127.0.0.1:${rtspPort}/stream2`);
        try {
          await sleep(3000);
          const args = (n: number) => ['janus', janus.url, '1', String(n)];
          const idle = await warmIdle(`janus (run ${run})`, janus.proc.pid!, args(1));
          for (const [i, n] of STEPS.entries()) rows.janus[i]!.push(await step(`janus (run ${run})`, janus.proc.pid!, idle, args(n), n));
        } finally {
          await janus.stop();
        }
        await sleep(2000);
      }
      if (SERVERS.includes('camd')) {
        const args = (n: number) => ['camd', d.baseUrl, `${USER.username}:${USER.password}`, 'stream2', String(n)];
        const idle = await warmIdle(`camd (run ${run})`, d.child.pid!, args(1));
        for (const [i, n] of STEPS.entries()) rows.camd[i]!.push(await step(`camd (run ${run})`, d.child.pid!, idle, args(n), n));
      }
    }
  } finally {
    await d.stop();
    removeLink();
  }
  printSpread(rows);
}

/** min / median / max of a figure over the runs (one value when there was one run). */
function spread(xs: number[], digits: number, unit = ''): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(digits);
  if (s.length === 0) return '-';
  return s.length === 1 ? `${f(s[0]!)}${unit}` : `${f(s[0]!)} / ${f(percentile(s, 0.5))} / ${f(s.at(-1)!)}${unit}`;
}

interface Column {
  header: string;
  width: number;
  of: (f: Figures) => number;
  digits: number;
  unit?: string;
}

/** The columns of the summary, each a figure over the runs. */
const COLUMNS: Column[] = [
  { header: 'CPU/viewer', width: 22, of: (f) => f.cpuPerViewer * 100, digits: 2, unit: ' %' },
  { header: 'RSS/viewer (MiB)', width: 18, of: (f) => f.rssPerViewerMiB, digits: 2 },
  { header: 'receiver drops', width: 18, of: (f) => f.drops, digits: 0 },
  { header: 'NACKed', width: 14, of: (f) => f.nacks, digits: 0 },
  { header: 'fps slowest', width: 18, of: (f) => f.minFps, digits: 1 },
  { header: 'fps median', width: 18, of: (f) => f.medianFps, digits: 1 },
];
const cell = (c: Column, runs: Figures[]) => spread(runs.map(c.of), c.digits, c.unit).padEnd(c.width);

/**
 * Per step and server: min / median / max over the runs; then the ratio camd/Janus of the medians
 * (the figure to quote) and the range of the per-run ratios (run k of camd against run k of Janus,
 * measured a minute apart: what one run alone could have said).
 */
function printSpread(rows: Record<Server, Figures[][]>): void {
  console.log(`\nside by side, ${RUNS} run(s) of each, alternating (720p30 4 Mbit/s, werift receivers; CPU = the serving process, % of one core)`);
  console.log(`min / median / max over the runs:`);
  console.log(['viewers', 'server', ...COLUMNS.map((c) => c.header.padEnd(c.width))].join(' | '));
  for (const [i, n] of STEPS.entries()) {
    for (const server of ['janus', 'camd'] as const) {
      const r = rows[server][i]!;
      if (r.length) console.log([String(n).padStart(7), server.padEnd(6), ...COLUMNS.map((c) => cell(c, r))].join(' | '));
    }
    const j = rows.janus[i]!;
    const c = rows.camd[i]!;
    if (j.length && c.length) {
      const cpu = (xs: Figures[]) => median(xs.map((x) => x.cpuPerViewer));
      const perRun = c.slice(0, j.length).map((x, k) => x.cpuPerViewer / j[k]!.cpuPerViewer);
      console.log(`${String(n).padStart(7)} viewers: CPU/viewer camd/Janus ${(cpu(c) / cpu(j)).toFixed(2)}× (medians); per run ${spread(perRun, 2, '×')}`);
    }
  }
}

/** A server's CPU (share of a core) and RSS with no viewer, the baseline of every step. */
async function idleOf(pid: number): Promise<{ cpu: number; rssKiB: number }> {
  const c0 = cpuSeconds(pid);
  await sleep(3000);
  return { cpu: (cpuSeconds(pid) - c0) / 3, rssKiB: rssKiB(pid) };
}

/**
 * The idle baseline after one viewer came and went: what a server loads once for its first viewer
 * (camd loads werift then, about 30 MiB) is printed on its own, not spread over the viewers of a step.
 */
async function warmIdle(server: string, pid: number, oneViewer: string[]): Promise<{ cpu: number; rssKiB: number }> {
  // A later round's baseline is measured against the server's first idle figure: its previous
  // round's peers may still be served until they time out (camd: disconnectTimeoutMs), and a
  // baseline taken then hides their cost (measured: 22-31 % "idle", negative figures per viewer).
  if (!coldIdle.has(pid)) coldIdle.set(pid, await idleOf(pid));
  await quiet(pid, coldIdle.get(pid)!);
  const cold = rssKiB(pid);
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'bench/children/anchor-receivers.ts', ...oneViewer], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  await sleep(2000);
  child.stdin!.end();
  await new Promise((r) => child.once('exit', r));
  await quiet(pid, coldIdle.get(pid)!);
  const warm = await idleOf(pid);
  console.log(
    `${server}: RSS ${MiB(cold).toFixed(0)} MiB before any viewer, ${MiB(warm.rssKiB).toFixed(0)} MiB after the first came and went (the baseline below)`,
  );
  return warm;
}

/** Each server process's idle CPU before its first viewer. */
const coldIdle = new Map<number, { cpu: number; rssKiB: number }>();

/** Waits until the server is back near its idle CPU (the previous step's peers have been closed). */
async function quiet(pid: number, idle: { cpu: number }): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const c0 = cpuSeconds(pid);
    await sleep(1000);
    if (cpuSeconds(pid) - c0 < idle.cpu + 0.03) return;
  }
}

/** One measurement: n receivers of `server` (pid), CPU and RSS against the server with no viewer. */
async function step(server: string, pid: number, idleFigures: { cpu: number; rssKiB: number }, args: string[], n: number): Promise<Figures> {
  await quiet(pid, idleFigures);
  const idle = idleFigures.cpu;
  const rss0 = idleFigures.rssKiB;
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'bench/children/anchor-receivers.ts', ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const connected = await Promise.race([lines.next(), sleep(90_000).then(() => undefined)]);
    if (!connected || connected.done) throw new Error(`${server}: ${n} receivers did not all connect within 90 s`);
    await sleep(4000); // keyframes, jitter of the joins
    const drops0 = socketDrops(child.pid!);
    const packets0 = udpInDatagrams();
    const c0 = cpuSeconds(pid);
    const r0 = cpuSeconds(child.pid!);
    child.stdin!.write(`measure ${WINDOW_MS}\n`);
    const { value } = await lines.next();
    const cpu = (cpuSeconds(pid) - c0) / (WINDOW_MS / 1000);
    const receiversCpu = (cpuSeconds(child.pid!) - r0) / (WINDOW_MS / 1000);
    const drops = socketDrops(child.pid!) - drops0;
    // InDatagrams counts what was delivered: a dropped datagram is not in it.
    const packets = udpInDatagrams() - packets0 + drops;
    const rss = rssKiB(pid);
    const measured = JSON.parse(value as string) as { frames: number[]; nacks: number };
    const fps = measured.frames.map((f) => f / (WINDOW_MS / 1000));
    const f: Figures = {
      viewers: n,
      cpuPerViewer: (cpu - idle) / n,
      rssPerViewerMiB: MiB(rss - rss0) / n,
      rssMiB: MiB(rss),
      drops,
      packets,
      minFps: Math.min(...fps),
      medianFps: percentile(fps, 0.5),
      nacks: measured.nacks,
    };
    console.log(
      `${server} ${n} viewers: ${(cpu * 100).toFixed(0)} % of a core (idle ${(idle * 100).toFixed(1)} %), ${(f.cpuPerViewer * 100).toFixed(2)} %/viewer; RSS ${MiB(rss0).toFixed(0)} → ${f.rssMiB.toFixed(0)} MiB; receiver drops ${drops} of ${packets} datagrams, ${f.nacks} packets NACKed; fps slowest ${f.minFps.toFixed(1)}, median ${f.medianFps.toFixed(1)}; receivers ${(receiversCpu * 100).toFixed(0)} % of a core`,
    );
    return f;
  } finally {
    child.stdin!.end();
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000).then(() => child.kill('SIGKILL'))]);
  }
}

/** Datagrams the receiver process's UDP sockets dropped (receive buffer full), from /proc/net/udp's `drops` column. */
function socketDrops(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  let drops = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 13 && inodes.has(cols[9]!)) drops += Number(cols[12]);
  }
  return drops;
}

/** Datagrams received on this machine (every UDP socket): the volume the drops are a part of. */
function udpInDatagrams(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('InDatagrams')]);
}

/**
 * Janus gathers host candidates on non-loopback interfaces only: one with a loopback-range address.
 * A veth pair, since this machine's kernel has no `dummy` link type ("Unknown device type").
 */
function addDummyLink(): () => void {
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  try {
    ip('link', 'del', LINK);
  } catch {
    // none left over
  }
  ip('link', 'add', LINK, 'type', 'veth', 'peer', 'name', `${LINK}p`);
  ip('addr', 'add', `${JANUS_ADDRESS}/32`, 'dev', LINK);
  ip('link', 'set', `${LINK}p`, 'up');
  ip('link', 'set', LINK, 'up');
  return () => {
    try {
      ip('link', 'del', LINK);
    } catch {
      // already gone
    }
  };
}

/** Debian's Janus with only the streaming plugin and the HTTP transport, one RTSP mountpoint (id 1). */
async function startJanus(rtspUrl: string): Promise<{ proc: ChildProcess; url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'camd-janus-anchor-'));
  for (const sub of ['plugins', 'transports', 'none']) mkdirSync(join(dir, sub));
  symlinkSync(join(JANUS_LIB, 'plugins/libjanus_streaming.so'), join(dir, 'plugins/libjanus_streaming.so'));
  symlinkSync(join(JANUS_LIB, 'transports/libjanus_http.so'), join(dir, 'transports/libjanus_http.so'));
  writeFileSync(
    join(dir, 'janus.jcfg'),
    `general: { configs_folder = "${dir}", plugins_folder = "${dir}/plugins", transports_folder = "${dir}/transports", events_folder = "${dir}/none", loggers_folder = "${dir}/none", debug_level = 3 }
media: { rtp_port_range = "20000-40000" }
nat: { ice_enforce_list = "${JANUS_ADDRESS}" }
`,
  );
  writeFileSync(
    join(dir, 'janus.transport.http.jcfg'),
    `general: { json = "compact", base_path = "/janus", http = true, port = ${port}, ip = "127.0.0.1", https = false }
admin: { admin_http = false }
`,
  );
  const u = new URL(rtspUrl);
  writeFileSync(
    join(dir, 'janus.plugin.streaming.jcfg'),
    `camd: { type = "rtsp", id = 1, description = "camd stream2", audio = false, video = true, url = "rtsp://${u.host}${u.pathname}", rtsp_user = "${decodeURIComponent(u.username)}", rtsp_pwd = "${decodeURIComponent(u.password)}", rtsp_reconnect_delay = 5 }
`,
  );
  const proc = spawn('janus', ['-F', dir, '-C', join(dir, 'janus.jcfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b) => (log = (log + b).slice(-4000)));
  proc.stderr!.on('data', (b) => (log = (log + b).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await fetch(`${url}/janus/info`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`Janus did not start:\n${log}`);
    }
    await sleep(200);
  }
  return {
    proc,
    url,
    async stop() {
      proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(5000).then(() => proc.kill('SIGKILL'))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
