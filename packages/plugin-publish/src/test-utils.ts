import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestHost } from '@camd/core/testing';
import { until } from '@camd/core/testing';
import type { TargetStats } from './publisher.js';

/** A process a test started: its output lines, and a stop that waits for the exit. */
export interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  waitFor(re: RegExp, timeoutMs?: number, what?: string): Promise<RegExpExecArray>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: boolean;
}

const started = new Set<Proc>();

/** Starts `cmd`; stdout and stderr lines are kept (the last 2000). Every process is stopped by `stopAll`. */
export function startProc(cmd: string, args: string[], opts: { cwd?: string } = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
  const lines: string[] = [];
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
  // The first lines (a stream's description) are kept for good; of the rest, the newest 2000.
  const head: string[] = [];
  const keep = (l: string) => {
    if (!l.trim()) return;
    if (head.length < 500) head.push(l);
    lines.push(l);
    if (lines.length > 2000) lines.splice(0, lines.length - 2000);
  };
  // A line may arrive split over two chunks: each stream carries its unfinished tail to the next.
  const reader = () => {
    let tail = '';
    return {
      data: (chunk: Buffer) => {
        const parts = (tail + chunk.toString('utf8')).split(/\r?\n|\r/);
        tail = parts.pop() ?? '';
        for (const l of parts) keep(l);
      },
      end: () => keep(tail),
    };
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    const r = reader();
    stream.on('data', r.data);
    stream.on('end', r.end);
  }
  const p: Proc = {
    child,
    lines,
    get exited() {
      return exited;
    },
    async waitFor(re, timeoutMs = 15_000, what = String(re)) {
      return until(
        () => {
          for (let i = lines.length - 1; i >= 0; i--) {
            const m = re.exec(lines[i]!);
            if (m) return m;
          }
          for (const l of head) {
            const m = re.exec(l);
            if (m) return m;
          }
          return undefined;
        },
        timeoutMs,
        `${what} from ${cmd} (last lines: ${lines.slice(-5).join(' | ')})`,
      );
    },
    async stop(signal = 'SIGKILL') {
      started.delete(p);
      if (!exited) child.kill(signal);
      await exit;
    },
  };
  started.add(p);
  return p;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop()));
}

const RECORD_SERVER = fileURLToPath(new URL('./fixtures/record_server.py', import.meta.url));

/**
 * gst-rtsp-server in RECORD mode on 127.0.0.1:`port` (Debian's python3 for gi). H.264 only, unless
 * `anyCodec`: then it decodes whatever codec each ANNOUNCE names (see `recordCodecs`).
 */
export async function recordServer(
  port: number,
  path: string,
  creds?: { user: string; password: string },
  opts: { anyCodec?: boolean; tls?: { cert: string; key: string } } = {},
): Promise<Proc> {
  const p = startProc('/usr/bin/python3', [
    RECORD_SERVER,
    String(port),
    path,
    ...(creds ? [creds.user, creds.password] : []),
    ...(opts.anyCodec ? ['--any'] : []),
    ...(opts.tls ? [`--tls=${opts.tls.cert},${opts.tls.key}`] : []),
  ]);
  await p.waitFor(/^ready$/, 15_000, 'the RECORD server to listen');
  return p;
}

/** The newest `frames=N width=W height=H` line of a record server. */
export function recordFigures(p: Proc): { frames: number; width: number; height: number } {
  for (let i = p.lines.length - 1; i >= 0; i--) {
    const m = /^frames=(\d+) width=(\d+) height=(\d+)/.exec(p.lines[i]!);
    if (m) return { frames: Number(m[1]), width: Number(m[2]), height: Number(m[3]) };
  }
  return { frames: 0, width: 0, height: 0 };
}

/** Of a record server started with `anyCodec`: the newest session's encoding name (`H264`, `H265`, `JPEG`) and the frames decoded per encoding name. */
export function recordCodecs(p: Proc): { codec: string; by: Record<string, number> } {
  for (let i = p.lines.length - 1; i >= 0; i--) {
    const m = /^frames=\d+ .* codec=(\S*) by=(\S*)/.exec(p.lines[i]!);
    if (m)
      return {
        codec: m[1]!,
        by: Object.fromEntries(
          m[2]!
            .split(',')
            .filter(Boolean)
            .map((kv) => [kv.split(':')[0]!, Number(kv.split(':')[1])]),
        ),
      };
  }
  return { codec: '', by: {} };
}

/** Frames the server decoded over `ms` (the rate at which frames arrive). */
export async function frameRate(p: Proc, ms = 3000): Promise<number> {
  const a = recordFigures(p).frames;
  await new Promise((r) => setTimeout(r, ms));
  return ((recordFigures(p).frames - a) * 1000) / ms;
}

export async function targetStats(host: TestHost, stream = 'stream1'): Promise<TargetStats[]> {
  const r = (await (await host.fetch('/api/stats')).json()) as Record<string, { publish?: { targets: TargetStats[] } }>;
  return r[stream]?.publish?.targets ?? [];
}

/** Frames per second the stream's encoder produces now (`/api/stats`). */
export async function streamFps(host: TestHost, stream = 'stream1'): Promise<number> {
  const r = (await (await host.fetch('/api/stats')).json()) as Record<string, { fps: number }>;
  return r[stream]!.fps;
}

/** ffprobe's answer about a URL: the first video stream's size and the frames it read in `seconds`. */
export async function probe(
  url: string,
  seconds = 3,
  extra: string[] = [],
): Promise<{ width: number; height: number; frames: number; fps: number; codec: string }> {
  const p = startProc('ffprobe', [
    '-v',
    'error',
    ...extra,
    '-read_intervals',
    `%+${seconds}`,
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_name,width,height,nb_read_frames,r_frame_rate',
    '-of',
    'default=noprint_wrappers=1',
    url,
  ]);
  await new Promise<void>((resolve) => p.child.once('close', () => resolve()));
  await p.stop();
  const get = (k: string) => p.lines.find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  const rate = get('r_frame_rate') ?? '0/1';
  const [n, d] = rate.split('/').map(Number) as [number, number];
  return {
    width: Number(get('width') ?? 0),
    height: Number(get('height') ?? 0),
    frames: Number(get('nb_read_frames') ?? 0),
    fps: d ? n / d : 0,
    codec: get('codec_name') ?? '',
  };
}

/**
 * nginx with libnginx-mod-rtmp on 127.0.0.1:`port`, application `live`, from a config written here.
 * With `tls`: also nginx's `stream` module (libnginx-mod-stream) terminating TLS on 127.0.0.1:`tls.port`
 * and passing the plain RTMP to `port`, as rtmps:// ingest is deployed in front of nginx-rtmp.
 */
export async function nginxRtmp(port: number, tls?: { port: number; cert: string; key: string }): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'camd-nginx-'));
  mkdirSync(join(dir, 'logs'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'daemon off;',
      // One process: the test stops it with one signal and nothing lingers.
      'master_process off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr warn;',
      'load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;',
      ...(tls ? ['load_module /usr/lib/nginx/modules/ngx_stream_module.so;'] : []),
      'events { worker_connections 64; }',
      `rtmp { server { listen 127.0.0.1:${port}; application live { live on; record off; } } }`,
      ...(tls
        ? [
            `stream { server { listen 127.0.0.1:${tls.port} ssl; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key};`,
            `  proxy_pass 127.0.0.1:${port}; } }`,
          ]
        : []),
      '',
    ].join('\n'),
  );
  const p = startProc('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr']);
  p.child.once('close', () => rmSync(dir, { recursive: true, force: true }));
  await until(async () => (await canConnect(port)) && (!tls || (await canConnect(tls.port))), 10_000, 'nginx to listen');
  return p;
}

/**
 * Throwaway certificates for 127.0.0.1 and localhost (openssl CLI), in a temp dir: a private CA and a
 * server certificate it signed, and a self-signed server certificate (as a camera or a small server makes for itself).
 */
export interface TestCerts {
  readonly dir: string;
  /** The CA's certificate (what a target's `ca` names). */
  readonly ca: string;
  /** The server's certificate (signed by `ca`) and key. */
  readonly cert: string;
  readonly key: string;
  /** A self-signed server certificate and its key: trusted by naming the certificate itself as `ca`. */
  readonly selfSigned: { readonly cert: string; readonly key: string };
  remove(): void;
}

export async function makeCerts(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'camd-tls-'));
  const f = (n: string) => join(dir, n);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const run = async (args: string[]) => {
    const p = startProc('openssl', args, { cwd: dir });
    const code = await new Promise<number | null>((resolve) => p.child.once('close', (c) => resolve(c)));
    await p.stop();
    if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${p.lines.slice(-3).join(' | ')}`);
  };
  const subj = (cn: string) => ['-subj', `/CN=${cn}`];
  await run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    ...subj('camd test CA'),
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  await run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', ...subj('localhost')]);
  await run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.pem',
  ]);
  await run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'self.key',
    '-out',
    'self.pem',
    '-days',
    '2',
    ...subj('localhost'),
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return {
    dir,
    ca: f('ca.pem'),
    cert: f('server.pem'),
    key: f('server.key'),
    selfSigned: { cert: f('self.pem'), key: f('self.key') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** srt-live-transmit relaying SRT received on `inPort` (listener, with `passphrase`) to a listener on `outPort` for ffprobe. */
export function srtRelay(inPort: number, outPort: number, passphrase?: string): Proc {
  const src = `srt://:${inPort}?mode=listener${passphrase ? `&passphrase=${passphrase}` : ''}`;
  return startProc('srt-live-transmit', ['-q', src, `srt://:${outPort}?mode=listener`]);
}

/**
 * Whether something listens on 127.0.0.1:`port` (TCP), read from /proc/net/tcp rather than by
 * connecting: a server that takes one client only (ffmpeg -rtsp_flags listen) must not see a probe.
 */
export function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex}`) && f[3] === '0A';
    });
}
