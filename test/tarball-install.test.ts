import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../packages/core/src/testing/index.js';

/**
 * What a user gets from the registry: the packed tarballs installed with plain `npm install` into an
 * empty folder (no workspace, no pnpm; their dependencies come from the public registry, node-gtk is
 * compiled on the spot), then `npx camd`. Slow (node-gtk builds natively, about 80 s here), so the
 * install happens once and both tests share the folder.
 */
const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const packDir = mkdtempSync(join(tmpdir(), 'camd-tgz-'));
const appDir = mkdtempSync(join(tmpdir(), 'camd-npm-'));
const viewer = { username: 'viewer', password: 'viewer-pass', permissions: ['Media_r'] };
const operator = { username: 'operator', password: 'operator-pass', permissions: ['Media_rw'] };
const timings: Record<string, number> = {};

/**
 * A plain environment for npm: none of the npm_config_* that pnpm or npm scripts pass down; and npx
 * never fetches a package named like the command (it runs node_modules/.bin/camd or fails).
 */
const plainEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^pnpm_/i.test(k))), npm_config_yes: 'false' };

async function pack(dir: string): Promise<string> {
  const before = new Set(readdirSync(packDir));
  await run('pnpm', ['pack', '--pack-destination', packDir], { cwd: join(ROOT, dir) });
  return join(packDir, readdirSync(packDir).find((f) => !before.has(f) && f.endsWith('.tgz'))!);
}

async function npmInstall(tarballs: string[]): Promise<void> {
  const t0 = Date.now();
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: appDir, env: plainEnv, maxBuffer: 16 * 2 ** 20 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`npm install failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  timings[`npm install ${tarballs.map((t) => t.split('/').pop()).join(' ')}`] = Date.now() - t0;
}

interface Camd {
  child: ChildProcess;
  baseUrl: string;
  rtspPort: number;
  output(): string;
  stop(): Promise<void>;
}

/** `npx camd --config <file> --state-dir <state>` in the install folder, until /api/health answers 200. */
async function startCamd(file: string, state: string, config: (ports: { http: number; rtsp: number }) => string): Promise<Camd> {
  const [httpPort, rtspPort] = [await freePort(), await freePort()];
  writeFileSync(join(appDir, file), config({ http: httpPort, rtsp: rtspPort }));
  // Its own process group: npx runs camd through a shell, and the whole group is stopped at the end.
  const child = spawn('npx', ['camd', '--config', file, '--state-dir', state], {
    cwd: appDir,
    env: plainEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const stop = async () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* the group is empty: nothing outlived the daemon */
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npx camd exited with ${child.exitCode}:\n${out}`);
    const status = await fetch(`${baseUrl}/api/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npx camd did not become healthy within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, baseUrl, rtspPort, output: () => out, stop };
}

async function ffprobe(url: string): Promise<{ codec_name: string; width: number; height: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', url], {
    timeout: 20_000,
  });
  return (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0]!;
}

const auth = (u: { username: string; password: string }) => ({ authorization: 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64') });

// Needs the public registry (the packages' own dependencies); CAMD_TEST_OFFLINE=1 skips it.
describe.skipIf(process.env.CAMD_TEST_OFFLINE === '1')('install from tarballs with plain npm (no workspace)', () => {
  let sitename: string;
  beforeAll(async () => {
    const t0 = Date.now();
    const tarballs = [await pack('packages/core'), await pack('apps/daemon'), await pack('packages/plugin-rtsp')];
    sitename = await pack('examples/camd-plugin-sitename');
    timings['pnpm pack (4 packages)'] = Date.now() - t0;
    writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'camd-install-test', private: true }));
    await npmInstall(tarballs);
  }, 900_000);
  afterAll(() => {
    process.stdout.write(`tarball install timings (ms): ${JSON.stringify(timings)}\n`);
    rmSync(packDir, { recursive: true, force: true });
    rmSync(appDir, { recursive: true, force: true });
  });

  it('npx camd runs the installed daemon: healthy, RTSP plays in ffprobe, metrics served, no transpiler installed', async () => {
    const pkg = JSON.parse(readFileSync(join(appDir, 'node_modules/@camd/daemon/package.json'), 'utf8')) as { version: string };
    expect(existsSync(join(appDir, 'node_modules/.bin/camd'))).toBe(true);
    expect((await run('npx', ['camd', '--version'], { cwd: appDir, env: plainEnv })).stdout).toBe(`camd ${pkg.version}\n`);
    for (const dep of ['tsx', 'esbuild', 'typescript', 'ts-node']) expect(existsSync(join(appDir, 'node_modules', dep)), dep).toBe(false);
    expect(existsSync(join(appDir, 'node_modules/@camd/core/src')), 'TypeScript sources shipped').toBe(false);

    const t0 = Date.now();
    const camd = await startCamd('c.json', 's', (port) =>
      JSON.stringify({
        http: { host: '127.0.0.1', port: port.http },
        users: [viewer],
        plugins: ['@camd/plugin-rtsp'],
        rtsp: {
          port: port.rtsp,
          streams: [{ path: '/stream1', resolution: '320x240', fps: 15, bitrate: 400_000, profile: 'baseline', preset: 'ultrafast', source: 'videotestsrc' }],
        },
      }),
    );
    timings['start until healthy'] = Date.now() - t0;
    try {
      expect(await ffprobe(`rtsp://${viewer.username}:${viewer.password}@127.0.0.1:${camd.rtspPort}/stream1`)).toEqual({
        codec_name: 'h264',
        width: 320,
        height: 240,
      });
      // /metrics needs credentials by default (Media_r); the viewer's Basic credentials, as Prometheus' basic_auth sends them.
      const basic = `Basic ${Buffer.from(`${viewer.username}:${viewer.password}`).toString('base64')}`;
      const metrics = await (await fetch(`${camd.baseUrl}/metrics`, { headers: { authorization: basic } })).text();
      expect(metrics).toMatch(/^camd_stream_up\{stream="stream1"\} 1$/m);
      expect(camd.output()).not.toContain(viewer.password);
    } finally {
      await camd.stop();
    }
    expect(camd.child.exitCode ?? camd.child.signalCode).not.toBeNull();
  });

  it('a third-party plugin installed from its own tarball beside them is loaded by name from a YAML config', async () => {
    await npmInstall([sitename]);
    const camd = await startCamd(
      'c.yaml',
      // A state dir of its own: the first run persisted its RTSP port as the rtspPort setting.
      's2',
      (port) => `# camd, as an operator would write it
http: { host: 127.0.0.1, port: ${port.http} }
users:
  - { username: ${viewer.username}, password: ${viewer.password}, permissions: [Media_r] }
  - { username: ${operator.username}, password: ${operator.password}, permissions: [Media_rw] }
plugins:
  - "@camd/plugin-rtsp"
  - name: camd-plugin-sitename       # installed from its own tarball
    options: { position: bottom }
rtsp:
  port: ${port.rtsp}
  streams:
    - { path: /stream1, resolution: 320x240, fps: 15, bitrate: 400000, profile: baseline, preset: ultrafast, source: videotestsrc }
`,
    );
    try {
      const plugins = (await (await fetch(`${camd.baseUrl}/api/plugins`, { headers: auth(viewer) })).json()) as {
        plugins: Array<{ name: string; version: string; status: string; routes: Array<{ url: string }> }>;
      };
      expect(plugins.plugins.find((p) => p.name === 'camd-plugin-sitename')).toMatchObject({
        version: '1.0.0',
        status: 'ready',
        routes: [{ method: 'GET', url: '/api/site' }],
      });
      // Its setting, route and pipeline fragment work: the name is drawn and the stream plays on.
      const put = await fetch(`${camd.baseUrl}/api/state/siteName`, {
        method: 'PUT',
        headers: { ...auth(operator), 'content-type': 'application/json' },
        body: JSON.stringify({ value: 'Lobby' }),
      });
      expect(put.status).toBe(200);
      expect(await (await fetch(`${camd.baseUrl}/api/site`, { headers: auth(viewer) })).json()).toEqual({ siteName: 'Lobby' });
      await new Promise((r) => setTimeout(r, 1000)); // the pipeline is rebuilt with the overlay
      await expect.poll(async () => (await fetch(`${camd.baseUrl}/api/health`)).status, { timeout: 20_000, interval: 250 }).toBe(200);
      expect(await ffprobe(`rtsp://${viewer.username}:${viewer.password}@127.0.0.1:${camd.rtspPort}/stream1`)).toMatchObject({
        codec_name: 'h264',
        width: 320,
      });
    } finally {
      await camd.stop();
    }
  });
});
