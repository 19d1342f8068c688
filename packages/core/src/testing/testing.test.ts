import { createServer, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { putState, TEST_USERS, until } from './index.js';

describe('until', () => {
  it('resolves with the first truthy value, polling sync or async checks', async () => {
    let n = 0;
    expect(await until(() => ++n >= 3 && n)).toBe(3);
    let m = 0;
    expect(await until(async () => (++m === 2 ? { ok: m } : undefined))).toEqual({ ok: 2 });
  });

  it('rejects with what it waited for once the time is up', async () => {
    const t0 = Date.now();
    await expect(until(() => false, 250, 'the moon')).rejects.toThrow('timed out after 250 ms waiting for the moon');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('rejects at once when the check throws', async () => {
    await expect(until(() => Promise.reject(new Error('boom')), 10_000)).rejects.toThrow('boom');
  });
});

describe('putState', () => {
  it('PUTs { value } as JSON to /api/state/:key, as the admin unless told otherwise', async () => {
    const seen: Array<{ method?: string; url?: string; type?: string; auth?: string; body: string }> = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], auth: req.headers.authorization, body });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      expect((await putState({ baseUrl }, 'streamBitrate', 1_000_000)).status).toBe(200);
      await putState({ baseUrl }, 'pipLayout', { a: [1] }, TEST_USERS.viewer);
      await putState({ baseUrl }, 'x', null, null);
    } finally {
      server.close();
    }
    const basic = (u: { username: string; password: string }) => 'Basic ' + Buffer.from(`${u.username}:${u.password}`).toString('base64');
    expect(seen).toEqual([
      { method: 'PUT', url: '/api/state/streamBitrate', type: 'application/json', auth: basic(TEST_USERS.admin), body: '{"value":1000000}' },
      { method: 'PUT', url: '/api/state/pipLayout', type: 'application/json', auth: basic(TEST_USERS.viewer), body: '{"value":{"a":[1]}}' },
      { method: 'PUT', url: '/api/state/x', type: 'application/json', auth: undefined, body: '{"value":null}' },
    ]);
  });
});
