import { execFile, execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  realpathSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, freePort, testStream } from '@camd/core/testing';
import { bundle } from '../src/bundle.js';
import { startDaemon, runCamd } from './daemon-process.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
/** What the bundle's processes get: nothing that could lead Node back into the workspace. */
const BARE_ENV = { NODE_OPTIONS: undefined, NODE_PATH: undefined };

describe('selective install: core + RTSP only', () => {
  let dir: string;
  let out: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'camd-bundle-'));
    const built = join(dir, 'built-here', 'camd');
    bundle({ out: built, plugins: ['@camd/plugin-rtsp'], log: () => undefined });
    // Moved and renamed after it was built: an install is a folder that works wherever it lands.
    mkdirSync(join(dir, 'elsewhere'));
    out = join(dir, 'elsewhere', 'camd-moved');
    renameSync(built, out);
    rmSync(join(dir, 'built-here'), { recursive: true });
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs no WebRTC or ONVIF dependency at all', () => {
    const store = readdirSync(join(out, 'node_modules/.pnpm'));
    expect(store.some((d) => d.startsWith('@camd+core'))).toBe(true);
    for (const lib of ['werift', 'onvif', 'fast-xml-parser', 'playwright'])
      expect(
        store.filter((d) => d.includes(lib)),
        lib,
      ).toEqual([]);
    expect(existsSync(join(out, 'node_modules/@camd/plugin-webrtc'))).toBe(false);
    expect(existsSync(join(out, 'node_modules/@camd/plugin-onvif'))).toBe(false);
  });

  it('holds built JavaScript only: no transpiler, no TypeScript sources, no link out of the folder', () => {
    const store = readdirSync(join(out, 'node_modules/.pnpm'));
    expect(
      store.filter((d) =>
        /^(tsx|esbuild|@esbuild\+|typescript|ts-node|sucrase|@swc\+|@babel\+core|oxc-transform|@oxc-transform\+|rolldown|@rolldown\+)[@+]/.test(d),
      ),
    ).toEqual([]);
    expect(existsSync(join(out, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(join(out, 'node_modules/esbuild'))).toBe(false);
    expect(existsSync(join(out, 'node_modules/@esbuild'))).toBe(false);
    const core = join(out, 'node_modules/@camd/core');
    for (const pkg of [out, core, join(out, 'node_modules/@camd/plugin-rtsp')]) {
      expect(existsSync(join(pkg, 'dist/index.js')) || existsSync(join(pkg, 'dist/main.js')), pkg).toBe(true);
      expect(existsSync(join(pkg, 'src')), `${pkg}/src`).toBe(false);
    }
    expect(existsSync(join(core, 'dist/media/pipeline/worker-path.js'))).toBe(true);
    expect(readFileSync(join(out, 'bin/camd.js'), 'utf8')).not.toMatch(/tsx|\.ts['"]/);
    // pnpm links relatively; nothing may point at the workspace (or anywhere else outside the folder).
    const outside: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isSymbolicLink()) {
          const target = readlinkSync(p);
          const abs = isAbsolute(target) ? target : resolve(d, target);
          if (isAbsolute(target) || relative(out, abs).startsWith('..')) outside.push(`${p} -> ${target}`);
        } else if (e.isDirectory()) walk(p);
      }
    };
    walk(out);
    expect(outside).toEqual([]);
    // Core's files are its own copies, not hard links to the workspace's dist/ (which a rebuild rewrites in place).
    const coreReal = realpathSync(core);
    const shared = readdirSync(coreReal, { recursive: true, encoding: 'utf8' }).filter((f) => {
      const st = lstatSync(join(coreReal, f));
      return st.isFile() && st.nlink > 1;
    });
    expect(shared).toEqual([]);
  });

  it('runs from its new place on plain Node: healthy, and ffprobe plays its RTSP stream', async () => {
    const rtspPort = await freePort();
    const viewer = { username: 'viewer', password: 'pw-viewer', permissions: ['Media_r'] };
    const d = await startDaemon(
      { users: [viewer], plugins: ['@camd/plugin-rtsp'], rtsp: { port: rtspPort, streams: [testStream()] } },
      { bin: join(out, 'bin/camd.js'), cwd: out, stateDir: join(dir, 'state-moved'), env: BARE_ENV },
    );
    try {
      const health = await fetch(`${d.baseUrl}/api/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { healthy: boolean }).healthy).toBe(true);
      const { stdout } = await run(
        'ffprobe',
        [
          '-v',
          'error',
          '-rtsp_transport',
          'tcp',
          '-show_entries',
          'stream=codec_name,width',
          '-of',
          'csv=p=0',
          `rtsp://viewer:pw-viewer@127.0.0.1:${rtspPort}/stream1`,
        ],
        { timeout: 30_000 },
      );
      expect(stdout.trim()).toBe('h264,320');
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('loads a third-party plugin installed beside it (its packed tarball) from the config', async () => {
    // Installing a third-party package is unpacking its published tarball into node_modules, as npm would.
    const packs = join(dir, 'packs');
    execFileSync('pnpm', ['pack', '--pack-destination', packs], { cwd: join(ROOT, 'examples/camd-plugin-sitename'), stdio: 'pipe' });
    const dest = join(out, 'node_modules/camd-plugin-sitename');
    mkdirSync(dest, { recursive: true });
    execFileSync('tar', ['xzf', join(packs, readdirSync(packs)[0]!), '-C', dest, '--strip-components=1']);
    const rtspPort = await freePort();
    const viewer = { username: 'viewer', password: 'pw-viewer', permissions: ['Media_rw'] };
    const d = await startDaemon(
      { users: [viewer], plugins: ['@camd/plugin-rtsp', 'camd-plugin-sitename'], rtsp: { port: rtspPort, streams: [testStream()] } },
      { bin: join(out, 'bin/camd.js'), cwd: out, env: BARE_ENV },
    );
    try {
      const put = await fetch(`${d.baseUrl}/api/state/siteName`, {
        method: 'PUT',
        headers: { authorization: basicAuth(viewer), 'content-type': 'application/json' },
        body: '{"value":"Line 4"}',
      });
      expect(put.status).toBe(200);
      expect(await (await fetch(`${d.baseUrl}/api/site`, { headers: { authorization: basicAuth(viewer) } })).json()).toEqual({ siteName: 'Line 4' });
      const plugins = (await (await fetch(`${d.baseUrl}/api/plugins`, { headers: { authorization: basicAuth(viewer) } })).json()) as {
        plugins: Array<{ name: string; version: string; apiVersion: number }>;
      };
      expect(plugins.plugins.map((p) => [p.name, p.version, p.apiVersion])).toEqual([
        ['@camd/plugin-rtsp', '0.1.0', 2],
        ['camd-plugin-sitename', '1.0.0', 2],
      ]);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('refuses a plugin written for another plugin API version, with the documented message', async () => {
    cpSync(join(ROOT, 'test/fixtures/camd-plugin-oldapi'), join(out, 'node_modules/camd-plugin-oldapi'), { recursive: true });
    const cfg = join(dir, 'old.json');
    writeFileSync(cfg, JSON.stringify({ plugins: ['camd-plugin-oldapi'], streams: [testStream()] }));
    const r = await runCamd(['--config', cfg, '--state-dir', join(dir, 'state-old')], undefined, join(out, 'bin/camd.js'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plugin "camd-plugin-oldapi" was written for plugin API version 99, but this camd provides plugin API version 2/);
  });
});
