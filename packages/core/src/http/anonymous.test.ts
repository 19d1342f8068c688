import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePlugin, PLUGIN_API_VERSION } from '../plugins/contract.js';
import { createTestHost, TEST_USERS, type TestHost } from '../testing/index.js';
import { isValidHostHeader } from './host-header.js';

/** One raw HTTP/1.1 request (a Host header no fetch() would send) and the whole answer. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
    s.on('connect', () => s.write(request));
  });
}

/** A plugin whose health check names a server, as a publish target's once did, with a detail that names it too. */
const chatty = definePlugin({
  name: 'test-chatty',
  apiVersion: PLUGIN_API_VERSION,
  setup(ctx) {
    ctx.hooks.collectHealth.tap('test-chatty', (checks) => [
      ...checks,
      { name: 'upstream rtsp://pub:***@10.0.0.5:8554/live/SECRETKEY', healthy: false, detail: 'connect ECONNREFUSED 10.0.0.5:8554' },
    ]);
  },
});

describe('what an anonymous caller reads', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ media: false, plugins: [chatty] });
  });
  afterAll(async () => h?.close());

  it('GET /api/health: the verdict (200/503 as for everyone) and each stream by name, no check details, no other check', async () => {
    const anonymous = await h.fetch('/api/health', { user: null });
    const full = await h.fetch('/api/health', { user: TEST_USERS.viewer });
    expect(anonymous.status).toBe(503);
    expect(full.status).toBe(503);
    const text = await anonymous.text();
    expect(JSON.parse(text)).toEqual({ healthy: false, checks: [{ name: 'stream:stream1', healthy: true }] });
    for (const secret of ['10.0.0.5', 'pub', 'SECRETKEY', 'detail', 'upstream']) expect(text).not.toContain(secret);
    // Media_r: every check with its detail, as before.
    expect(await full.json()).toMatchObject({
      healthy: false,
      checks: expect.arrayContaining([
        expect.objectContaining({ name: 'stream:stream1', healthy: true }),
        { name: 'upstream rtsp://pub:***@10.0.0.5:8554/live/SECRETKEY', healthy: false, detail: 'connect ECONNREFUSED 10.0.0.5:8554' },
      ]),
    });
  });

  it('GET /api/health: a user without Media_r reads what anyone reads; wrong credentials are refused', async () => {
    const nobody = await h.fetch('/api/health', { user: TEST_USERS.nobody });
    expect(nobody.status).toBe(503);
    expect(await nobody.json()).toEqual({ healthy: false, checks: [{ name: 'stream:stream1', healthy: true }] });
    const wrong = await h.fetch('/api/health', { user: { ...TEST_USERS.viewer, password: 'not-it' } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).code).toBe('CAMD_ERR_AUTH_REQUIRED');
  });

  it('a Host header that is no host name is refused (400) before any route sees it', async () => {
    for (const host of ['x"/><inj>', "cam'era", 'a b', 'cam&era', 'cam%3Cera', '[::1"]']) {
      const answer = await raw(h.httpPort, `GET /api/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(answer, host).toMatch(/^HTTP\/1.1 400 /);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code: string; message: string };
      expect(body.code).toBe('CAMD_ERR_BAD_HOST');
      expect(body.message).not.toContain(host);
    }
    for (const host of ['camera.local:8080', '127.0.0.1', 'cam_1', `[::1]:${h.httpPort}`, 'xn--kamra-gra.example']) {
      const answer = await raw(h.httpPort, `GET /api/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(answer, host).toMatch(/^HTTP\/1.1 503 /);
    }
  });

  it('isValidHostHeader: names, addresses and [IPv6] with an optional port; nothing that can leave XML or a URL', () => {
    for (const ok of ['', 'a', 'cam.local', '10.0.0.5:554', '[fe80::1]:80', 'x_y~z']) expect(isValidHostHeader(ok), ok).toBe(true);
    for (const bad of ['x"', '<a>', 'a:b:c', 'h:123456', '-lead', '.lead', 'a/b', 'a@b', 'a\\b', '[::1]x', 'a;b'])
      expect(isValidHostHeader(bad), bad).toBe(false);
  });
});
