import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, freePort, testStream } from '@camd/core/testing';
import { bundle } from '../src/bundle.js';
import { startDaemon, runCamd } from './daemon-process.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

describe('selective install: core + RTSP only', () => {
  let dir: string;
  let out: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'camd-bundle-'));
    out = join(dir, 'camd');
    bundle({ out, plugins: ['@camd/plugin-rtsp'], log: () => undefined });
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs no WebRTC or ONVIF dependency at all', () => {
    const store = readdirSync(join(out, 'node_modules/.pnpm'));
    expect(store.some((d) => d.startsWith('@camd+core'))).toBe(true);
    for (const lib of ['werift', 'onvif', 'fast-xml-parser', 'playwright']) expect(store.filter((d) => d.includes(lib)), lib).toEqual([]);
    expect(existsSync(join(out, 'node_modules/@camd/plugin-webrtc'))).toBe(false);
    expect(existsSync(join(out, 'node_modules/@camd/plugin-onvif'))).toBe(false);
  });

  it('runs, and ffprobe plays its RTSP stream; a third-party plugin installed beside it loads from the config', async () => {
    // Installing a third-party package is putting it into node_modules, as npm would.
    cpSync(join(ROOT, 'examples/camd-plugin-sitename'), join(out, 'node_modules/camd-plugin-sitename'), { recursive: true, filter: (p) => !p.includes('node_modules') });
    const rtspPort = await freePort();
    const viewer = { username: 'viewer', password: 'pw-viewer', permissions: ['Media_rw'] };
    const d = await startDaemon(
      { users: [viewer], plugins: ['@camd/plugin-rtsp', 'camd-plugin-sitename'], rtsp: { port: rtspPort, streams: [testStream()] } },
      { bin: join(out, 'bin/camd.js') },
    );
    try {
      const { stdout } = await run('ffprobe', ['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,width', '-of', 'csv=p=0', `rtsp://viewer:pw-viewer@127.0.0.1:${rtspPort}/stream1`], { timeout: 30_000 });
      expect(stdout.trim()).toBe('h264,320');
      const put = await fetch(`${d.baseUrl}/api/state/siteName`, { method: 'PUT', headers: { authorization: basicAuth(viewer), 'content-type': 'application/json' }, body: '{"value":"Line 4"}' });
      expect(put.status).toBe(200);
      expect(await (await fetch(`${d.baseUrl}/api/site`, { headers: { authorization: basicAuth(viewer) } })).json()).toEqual({ siteName: 'Line 4' });
      const plugins = (await (await fetch(`${d.baseUrl}/api/plugins`, { headers: { authorization: basicAuth(viewer) } })).json()) as { plugins: Array<{ name: string; version: string; apiVersion: number }> };
      expect(plugins.plugins.map((p) => [p.name, p.version, p.apiVersion])).toEqual([
        ['@camd/plugin-rtsp', '0.1.0', 1],
        ['camd-plugin-sitename', '1.0.0', 1],
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
    expect(r.stderr).toMatch(/plugin "camd-plugin-oldapi" was written for plugin API version 99, but this camd provides plugin API version 1/);
  });
});
