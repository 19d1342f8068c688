import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { CamdHost } from './host.js';
import { createTestHost, TEST_USERS, type TestHost } from './testing/index.js';
import { definePlugin, PLUGIN_API_VERSION } from './plugins/contract.js';
import { v } from './state/validate.js';
import { MEDIA_READ, MEDIA_WRITE } from './auth/permissions.js';
import { isCamdError, ErrorCodes } from './errors.js';

const FIXTURES = resolve(import.meta.dirname, '../../../test/fixtures');
const hosts: TestHost[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function host(opts: Parameters<typeof createTestHost>[0] = {}) {
  const h = await createTestHost({ media: false, ...opts });
  hosts.push(h);
  return h;
}

/** A folder whose node_modules holds the fixture plugins, as `npm install ./fixture` would. */
function pluginFolder(...names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'camd-plugins-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  for (const n of names) symlinkSync(join(FIXTURES, n), join(dir, 'node_modules', n));
  return dir;
}

const counter = definePlugin({
  name: 'test-counter',
  apiVersion: PLUGIN_API_VERSION,
  stateKeys: [{ key: 'counterLimit', default: 5, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.int({ min: 1, max: 10 }) }],
  setup(ctx) {
    ctx.http.register(async (app) => {
      app.get('/api/counter', { preHandler: ctx.http.requirePermission(MEDIA_READ) }, async (req) => ({
        limit: ctx.state.get('counterLimit'),
        caller: ctx.http.caller(req)?.username,
      }));
    });
  },
});

const run = promisify(execFile);

describe('HTTP API', () => {
  it('answers every documented status of /api/state', async () => {
    const h = await host({ plugins: [counter] });
    expect((await h.fetch('/api/state/streamBitrate', { user: null })).status).toBe(401);
    expect((await h.fetch('/api/state/streamBitrate', { user: { username: 'admin', password: 'wrong', permissions: [] } })).status).toBe(401);
    expect((await h.fetch('/api/state/streamBitrate', { user: TEST_USERS.nobody })).status).toBe(403);
    expect((await h.fetch('/api/state/noSuchKey')).status).toBe(404);
    const ok = await h.fetch('/api/state/streamBitrate', { user: TEST_USERS.viewer });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ key: 'streamBitrate', value: 500_000 });

    const put = (user: typeof TEST_USERS.viewer, body: unknown, key = 'streamBitrate') =>
      h.fetch(`/api/state/${key}`, { user, method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await put(TEST_USERS.viewer, { value: 1_000_000 })).status).toBe(403);
    const bad = await put(TEST_USERS.operator, { value: 'fast' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/streamBitrate: expected integer/);
    expect((await put(TEST_USERS.operator, {})).status).toBe(400);
    const good = await put(TEST_USERS.operator, { value: 1_000_000 });
    expect(good.status).toBe(200);
    expect(await good.json()).toEqual({ key: 'streamBitrate', value: 1_000_000 });
    expect(h.host.state.get('streamBitrate')).toBe(1_000_000);
    const malformed = await h.fetch('/api/state/streamBitrate', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"value":' });
    expect(malformed.status).toBe(400);
  });

  it('lists only readable keys and says which are writable', async () => {
    const h = await host();
    const viewer = (await (await h.fetch('/api/state', { user: TEST_USERS.viewer })).json()) as { keys: { key: string; writable: boolean }[] };
    expect(viewer.keys.find((k) => k.key === 'streamResolution')).toMatchObject({ writable: false });
    const nobody = (await (await h.fetch('/api/state', { user: TEST_USERS.nobody })).json()) as { keys: unknown[] };
    expect(nobody.keys).toEqual([]);
  });

  it('streams changes over SSE, only for keys the caller may read', async () => {
    const secret = definePlugin({
      name: 'test-secret',
      apiVersion: PLUGIN_API_VERSION,
      stateKeys: [{ key: 'adminOnly', default: 1, permissionRead: ['Admin'], permissionWrite: ['Admin'], validate: v.int() }],
      setup() {},
    });
    const h = await host({ plugins: [secret] });
    const res = await h.fetch('/api/events', { user: TEST_USERS.viewer });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const events: string[] = [];
    const reading = (async () => {
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString();
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          events.push(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
        if (events.some((e) => e.startsWith('event: state') && e.includes('streamFramerate'))) return;
      }
    })();
    await h.host.state.set('adminOnly', 2);
    await h.host.state.set('streamFramerate', 10);
    await reading;
    await reader.cancel();
    expect(events[0]).toMatch(/^event: snapshot/);
    expect(events[0]).not.toMatch(/adminOnly/);
    const changes = events.slice(1).filter((e) => e.startsWith('event: state'));
    expect(changes).toHaveLength(1);
    expect(JSON.parse(changes[0]!.split('data: ')[1]!)).toEqual({ key: 'streamFramerate', value: 10, by: '<system>' });
  });

  it('serves health without credentials and stats with them', async () => {
    const h = await host();
    const health = await h.fetch('/api/health', { user: null });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ healthy: true });
    expect((await h.fetch('/api/stats', { user: null })).status).toBe(401);
    const stats = (await (await h.fetch('/api/stats', { user: TEST_USERS.viewer })).json()) as Record<string, Record<string, number>>;
    // The streams, and next to them the login figures (see brute-force.test.ts).
    expect(Object.keys(stats)).toEqual(['stream1', 'auth']);
    expect(stats.auth).toMatchObject({ checks: expect.any(Number), failures: 0, lockedAddresses: 0 });
    for (const f of ['clientCount', 'totalBytesStreamed', 'currentBitrate', 'frameDrops', 'errors', 'uptime']) expect(typeof stats.stream1![f]).toBe('number');
  });

  it('accepts HTTP Digest as curl (and NVRs fetching snapshots) send it, and refuses a wrong one', async () => {
    const h = await host();
    const curl = async (user: string, url: string) => {
      const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--digest', '-u', user, url], { timeout: 10_000 });
      return stdout;
    };
    expect(await curl('viewer:viewer-secret', `${h.baseUrl}/api/stats?x=1`)).toBe('200');
    expect(await curl('viewer:wrong', `${h.baseUrl}/api/stats`)).toBe('401');
    expect(await curl('nobody:nobody-secret', `${h.baseUrl}/api/stats`)).toBe('403');
    const challenge = await h.fetch('/api/stats', { user: null });
    expect(challenge.headers.get('www-authenticate')).toMatch(/^Basic realm="camd".*, Digest realm="camd", nonce="[^"]+", algorithm=MD5, qop="auth"$/);
  });

  it('publishes OpenAPI docs', async () => {
    const h = await host();
    const doc = (await (await h.fetch('/openapi.json', { user: null })).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/state', '/api/state/{key}', '/api/health', '/api/stats']));
  });
});

describe('plugins', () => {
  it('register state keys and routes in their own scope, listed by /api/plugins', async () => {
    const h = await host({ plugins: [counter] });
    const res = await h.fetch('/api/counter', { user: TEST_USERS.viewer });
    expect(await res.json()).toEqual({ limit: 5, caller: 'viewer' });
    const list = (await (await h.fetch('/api/plugins')).json()) as { plugins: unknown[] };
    expect(list.plugins).toEqual([
      expect.objectContaining({
        name: 'test-counter',
        apiVersion: 2,
        status: 'ready',
        stateKeys: ['counterLimit'],
        routes: [{ method: 'GET', url: '/api/counter' }],
      }),
    ]);
  });

  it('load a third-party package by name from the config', async () => {
    const dir = pluginFolder('camd-plugin-hello');
    const stateDir = mkdtempSync(join(tmpdir(), 'camd-state-'));
    dirs.push(stateDir);
    const host = await CamdHost.create({
      config: {
        users: [TEST_USERS.viewer, TEST_USERS.operator],
        plugins: [{ name: 'camd-plugin-hello', options: { punctuation: '?' } }],
        http: { host: '127.0.0.1', port: 0 },
      },
      stateDir,
      media: false,
      logger: pino({ level: 'silent' }),
      pluginSearchPaths: [dir],
    });
    await host.start();
    try {
      const base = `http://127.0.0.1:${host.httpPort}`;
      const auth = 'Basic ' + Buffer.from('operator:operator-secret').toString('base64');
      await fetch(`${base}/api/state/helloGreeting`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: '{"value":"bonjour"}',
      });
      expect(await (await fetch(`${base}/api/hello`, { headers: { authorization: auth } })).json()).toEqual({ message: 'bonjour?' });
      expect(host.listPlugins()[0]).toMatchObject({ name: 'camd-plugin-hello', version: '1.2.3' });
    } finally {
      await host.stop();
    }
  });

  it('refuse a plugin written for another plugin API version, naming both', async () => {
    const dir = pluginFolder('camd-plugin-oldapi');
    const err = await CamdHost.create({
      config: { plugins: ['camd-plugin-oldapi'] },
      stateDir: pluginFolder(),
      media: false,
      logger: pino({ level: 'silent' }),
      pluginSearchPaths: [dir],
      announceAdmin: () => undefined,
    }).catch((e) => e);
    expect(isCamdError(err, ErrorCodes.PLUGIN_API_VERSION)).toBe(true);
    expect(err.message).toBe('plugin "camd-plugin-oldapi" was written for plugin API version 99, but this camd provides plugin API version 2');
  });

  it('refuse a missing plugin package, naming it', async () => {
    const err = await CamdHost.create({
      config: { plugins: ['camd-plugin-nowhere'] },
      stateDir: pluginFolder(),
      media: false,
      logger: pino({ level: 'silent' }),
      pluginSearchPaths: [pluginFolder()],
      announceAdmin: () => undefined,
    }).catch((e) => e);
    expect(isCamdError(err, ErrorCodes.PLUGIN_NOT_FOUND)).toBe(true);
    expect(err.message).toMatch(/"camd-plugin-nowhere" is not installed/);
  });

  it('skip an optional plugin that is not installed', async () => {
    const h = await host({ config: { plugins: [{ name: 'camd-plugin-nowhere', optional: true }] } });
    expect(h.host.listPlugins()).toEqual([]);
  });

  const broken = definePlugin({
    name: 'test-broken',
    apiVersion: PLUGIN_API_VERSION,
    setup() {
      throw new Error('no camera firmware');
    },
  });

  it('keep running when a plugin setup throws, and report it in health', async () => {
    const h = await host({ plugins: [broken, counter] });
    expect((await h.fetch('/api/counter')).status).toBe(200);
    const health = await h.fetch('/api/health', { user: TEST_USERS.viewer });
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      healthy: false,
      checks: expect.arrayContaining([{ name: 'plugin:test-broken', healthy: false, detail: 'no camera firmware' }]),
    });
    // Anonymous: the same 503, the streams by name, nothing about the plugins.
    const anonymous = await h.fetch('/api/health', { user: null });
    expect(anonymous.status).toBe(503);
    expect(await anonymous.json()).toEqual({ healthy: false, checks: [{ name: 'stream:stream1', healthy: true }] });
  });

  it('refuse to start when a required plugin setup throws', async () => {
    const err = await createTestHost({ media: false, plugins: [{ def: broken, required: true }] }).catch((e) => e);
    expect(isCamdError(err, ErrorCodes.PLUGIN_SETUP)).toBe(true);
    expect(err.message).toMatch(/required plugin "test-broken" failed to set up: no camera firmware/);
  });

  it('validate plugin options against the schema', async () => {
    const withOpts = definePlugin({
      name: 'test-opts',
      apiVersion: PLUGIN_API_VERSION,
      optionsSchema: { type: 'object', properties: { port: { type: 'integer' } } },
      setup() {},
    });
    const err = await createTestHost({ media: false, plugins: [{ def: withOpts, options: { port: 'x' } }] }).catch((e) => e);
    expect(err.message).toBe('plugin "test-opts" options.port: must be integer');
  });

  it('give each plugin its own context: taps carry its name, typed handles on its keys, writes to others only as declared', async () => {
    const own = { ownLimit: { key: 'ownLimit', default: 3, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.int({ min: 0 }) } };
    const seen: Array<{ value: number; by: string }> = [];
    const results: Record<string, string> = {};
    const writer = definePlugin({
      name: 'test-writer',
      apiVersion: PLUGIN_API_VERSION,
      stateKeys: own,
      async setup(ctx) {
        ctx.settings.ownLimit.watch((value, change) => void seen.push({ value, by: change.by }));
        await ctx.settings.ownLimit.set(7);
        results.own = String(ctx.settings.ownLimit.get());
        // Another plugin's key, without a declared permission: refused, naming both.
        results.other = await ctx.state.set('counterLimit', 9).then(
          () => 'written',
          (err: Error) => err.message,
        );
        // A tap whose name claims to be someone else still reports as this plugin.
        ctx.hooks.clientConnected.tap('not-me', () => {
          throw new Error('boom');
        });
      },
    });
    const abrLike = definePlugin({
      name: 'test-media-writer',
      apiVersion: PLUGIN_API_VERSION,
      permissions: [...MEDIA_WRITE],
      async setup(ctx) {
        results.declared = String(await ctx.state.set('counterLimit', 4));
      },
    });
    const h = await host({ plugins: [counter, writer, abrLike] });
    expect(results).toEqual({
      own: '7',
      other: 'plugin "test-writer" may not write "counterLimit" (owned by test-counter): declare a permission that allows it',
      declared: '4',
    });
    expect(seen).toEqual([{ value: 7, by: '<system>' }]);
    expect(h.host.state.get('counterLimit')).toBe(4);
    const events: string[] = [];
    h.host.logger.error = ((obj: { plugin?: string; hook?: string; err?: Error }) =>
      void events.push(`${obj.plugin} ${obj.hook}: ${obj.err?.message}`)) as never;
    h.host.hooks.clientConnected.call({ id: 'c1', stream: 'stream1', transport: 'test' });
    expect(events).toEqual(['test-writer clientConnected: hook clientConnected: "test-writer" failed: boom']);
  });

  it('show plugins the config without secrets: no password or hash of any user anywhere in their context', async () => {
    let dump = '';
    const nosy = definePlugin({
      name: 'test-nosy',
      apiVersion: PLUGIN_API_VERSION,
      setup(ctx) {
        dump = JSON.stringify({ config: ctx.config, options: ctx.options, name: ctx.name });
        expect(() => ((ctx.config.http as { port: number }).port = 1)).toThrow(TypeError);
      },
    });
    const hashed = { username: 'hashed', passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA', permissions: ['Media_r'] as const };
    const h = await host({
      plugins: [nosy],
      config: {
        users: [...Object.values(TEST_USERS).map((u) => ({ ...u, permissions: [...u.permissions] })), { ...hashed, permissions: [...hashed.permissions] }],
      },
    });
    expect(h.host.listPlugins().find((p) => p.name === 'test-nosy')!.status).toBe('ready');
    for (const u of Object.values(TEST_USERS)) expect(dump).not.toContain(u.password);
    expect(dump).not.toContain('scrypt$');
    expect(dump).not.toMatch(/password/i);
    expect(JSON.parse(dump).config.users).toContainEqual({ username: 'viewer', permissions: ['Media_r'] });
  });

  it('refuse a stateKeys record whose property names differ from the keys', async () => {
    const bad = definePlugin({
      name: 'test-misnamed',
      apiVersion: PLUGIN_API_VERSION,
      stateKeys: { wrongName: { key: 'actualKey', default: 1, permissionRead: MEDIA_READ, permissionWrite: MEDIA_WRITE, validate: v.int() } },
      setup() {},
    });
    const err = await createTestHost({ media: false, plugins: [bad] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCamdError(err) && err.code).toBe(ErrorCodes.PLUGIN_INVALID);
    expect((err as Error).message).toBe('plugin "test-misnamed": stateKeys.wrongName defines "actualKey"; the property must be named after its key');
  });

  it('set up plugins after the plugins they require', async () => {
    const order: string[] = [];
    const a = definePlugin({ name: 'a', apiVersion: 2, requires: ['b'], setup: () => void order.push('a') });
    const b = definePlugin({ name: 'b', apiVersion: 2, setup: () => void order.push('b') });
    await host({ plugins: [a, b] });
    expect(order).toEqual(['b', 'a']);
  });
});

describe('users', () => {
  it('creates an administrator with a random password on first start and stores only hashes', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'camd-state-'));
    dirs.push(stateDir);
    let shown: [string, string] | undefined;
    const h = await CamdHost.create({ config: {}, stateDir, media: false, logger: pino({ level: 'silent' }), announceAdmin: (u, p) => (shown = [u, p]) });
    expect(shown?.[0]).toBe('admin');
    const stored = (await import('node:fs')).readFileSync(join(stateDir, 'users.json'), 'utf8');
    expect(stored).not.toContain(shown![1]);
    expect(stored).toMatch(/scrypt\$/);
    expect(await h.users.verify('admin', shown![1])).toMatchObject({ username: 'admin' });
    expect(await h.users.verify('admin', 'guess')).toBeUndefined();
    await h.stop();
    // The second start finds the stored administrator and announces nothing.
    let again = false;
    const h2 = await CamdHost.create({ config: {}, stateDir, media: false, logger: pino({ level: 'silent' }), announceAdmin: () => (again = true) });
    expect(again).toBe(false);
    await h2.stop();
  });
});
