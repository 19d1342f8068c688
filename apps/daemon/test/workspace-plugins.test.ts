import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { basicAuth, freePort, testStream } from '@camd/core/testing';
import { installCommand } from '../src/plugins-command.js';
import { readPackage } from '../src/workspace.js';
import { runCamd, startDaemon } from './daemon-process.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const APP_DIR = resolve(import.meta.dirname, '..');
/** Every first-party plugin: each package of packages/ named plugin-*. */
const FIRST_PARTY = readdirSync(join(ROOT, 'packages'))
  .filter((d) => d.startsWith('plugin-'))
  .map((d) => readPackage(join(ROOT, 'packages', d, 'package.json')));
/** A third-party plugin that lives in the workspace but that the daemon does not depend on. */
const SITENAME = join(ROOT, 'examples/camd-plugin-sitename');
const viewer = { username: 'view', password: 'view-pass', permissions: ['Media_r'] };
const dir = mkdtempSync(join(tmpdir(), 'camd-wsplugins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('every plugin of the workspace loads from a checkout', () => {
  it('the daemon has each first-party plugin as a dev dependency (linked into apps/daemon by pnpm install), and no plugin as a dependency of the published package', () => {
    expect(FIRST_PARTY.length).toBeGreaterThanOrEqual(7);
    const daemon = readPackage(join(APP_DIR, 'package.json'));
    for (const p of FIRST_PARTY) expect(daemon.devDependencies?.[p.name], p.name).toMatch(/^workspace:/);
    // npm installs dependencies and optional dependencies of @camd/daemon: a daemon installed with
    // only core and RTSP must hold no other plugin.
    expect(Object.keys({ ...daemon.dependencies, ...daemon.optionalDependencies }).filter((n) => n.includes('plugin'))).toEqual([]);
  });

  it('the built daemon, started outside the checkout with every first-party plugin in its config, loads each (GET /api/plugins); a plugin finds itself from its own folder', async () => {
    const rtspPort = await freePort();
    const options: Record<string, Record<string, unknown>> = {
      '@camd/plugin-rtsp': { port: rtspPort, host: '127.0.0.1' },
      '@camd/plugin-onvif': { discoveryPort: 0 },
    };
    const d = await startDaemon(
      {
        users: [viewer],
        plugins: [...FIRST_PARTY.map((p) => ({ name: p.name, options: options[p.name] ?? {} })), 'camd-plugin-sitename'],
        streams: [testStream()],
      },
      // Run from the third-party plugin's folder: camd looks from the working directory, where the
      // package resolves by its own name (Node's self-reference through its `exports`).
      { cwd: SITENAME },
    );
    try {
      const body = (await (await fetch(`${d.baseUrl}/api/plugins`, { headers: { authorization: basicAuth(viewer) } })).json()) as {
        plugins: Array<{ name: string; version?: string; status: string }>;
      };
      for (const p of FIRST_PARTY)
        expect(
          body.plugins.find((x) => x.name === p.name),
          p.name,
        ).toMatchObject({ version: p.version, status: 'ready' });
      expect(body.plugins.find((x) => x.name === 'camd-plugin-sitename')).toMatchObject({
        version: readPackage(join(SITENAME, 'package.json')).version,
        status: 'ready',
      });
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('`camd plugins` names what is installed and what is not, with the command that installs it', async () => {
    const file = join(dir, 'plugins.json');
    const plugins = ['@camd/plugin-rtsp', 'camd-plugin-sitename', 'camd-plugin-nowhere', { name: 'camd-plugin-maybe', optional: true }];
    writeFileSync(file, JSON.stringify({ plugins, streams: [testStream()] }));
    const r = await runCamd(['plugins', '--config', file, '--state-dir', join(dir, 'state')]);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(report.map((p) => [p.name, p.installed])).toEqual([
      ['@camd/plugin-rtsp', true],
      ['camd-plugin-sitename', false],
      ['camd-plugin-nowhere', false],
      ['camd-plugin-maybe', false],
    ]);
    expect(report[0]).toMatchObject({
      version: FIRST_PARTY.find((p) => p.name === '@camd/plugin-rtsp')!.version,
      status: 'ready',
      stateKeys: expect.arrayContaining(['rtspPort']),
    });
    expect(report[1]).toMatchObject({
      optional: false,
      install: `cd ${ROOT} && pnpm --filter @camd/daemon add -D camd-plugin-sitename@workspace:* && pnpm build`,
    });
    expect(report[2]).toMatchObject({ optional: false, install: `cd ${ROOT} && pnpm --filter @camd/daemon add -D camd-plugin-nowhere` });
    expect(report[3]).toMatchObject({ optional: true });
    expect(r.stderr).toContain(`camd: plugin "camd-plugin-nowhere" is not installed (looked from ${dir}, `);
    expect(r.stderr).toContain(`install it: cd ${ROOT} && pnpm --filter @camd/daemon add -D camd-plugin-nowhere\n`);
    expect(r.stderr).toContain('camd: plugin "camd-plugin-maybe" (optional) is not installed');

    // Everything required installed: exit 0. And `camd run` names the command too when it refuses to start.
    writeFileSync(file, JSON.stringify({ plugins: ['@camd/plugin-rtsp', { name: 'camd-plugin-maybe', optional: true }], streams: [testStream()] }));
    expect((await runCamd(['plugins', '--config', file, '--state-dir', join(dir, 'state')])).code).toBe(0);
    writeFileSync(file, JSON.stringify({ plugins: ['camd-plugin-nowhere'], streams: [testStream()] }));
    const run = await runCamd(['--config', file, '--state-dir', join(dir, 'state')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`camd: install it: cd ${ROOT} && pnpm --filter @camd/daemon add -D camd-plugin-nowhere\n`);
  });

  it('outside a checkout the command is npm beside the daemon, npm -g for a global install, a new bundle for a bundle', () => {
    const app = (path: string) => {
      const d = join(dir, path);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'package.json'), JSON.stringify({ name: '@camd/daemon' }));
      return d;
    };
    expect(installCommand('@camd/plugin-publish', app('site/node_modules/@camd/daemon'))).toBe(`cd ${join(dir, 'site')} && npm install @camd/plugin-publish`);
    expect(installCommand('@camd/plugin-publish', app('usr/lib/node_modules/@camd/daemon'))).toBe('npm install -g @camd/plugin-publish');
    const bundle = app('opt/camd');
    mkdirSync(join(bundle, 'node_modules/.pnpm'), { recursive: true });
    expect(installCommand('@camd/plugin-publish', bundle)).toMatch(
      /^camd bundle --out DIR --plugins <the plugins it has>,@camd\/plugin-publish \(from a camd checkout\)/,
    );
  });
});
