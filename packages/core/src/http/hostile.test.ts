import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../testing/index.js';

/** Sends raw bytes and returns what the server answered before closing (or `timeoutMs`). */
function raw(port: number, data: string | Buffer, timeoutMs = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, timeoutMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    s.on('error', () => undefined);
    s.on('connect', () => s.write(data));
  });
}

const json = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: string; code: string; message: string };

describe('HTTP API against bad requests', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ media: false });
  });
  afterAll(async () => h?.close());

  it('asks for credentials before reading or judging a body', async () => {
    const put = (body: string | undefined, headers: Record<string, string>) =>
      h.fetch('/api/state/streamBitrate', { method: 'PUT', user: null, headers, body });
    for (const [body, headers] of [
      ['{not json', { 'content-type': 'application/json' }],
      ['{}', { 'content-type': 'application/json' }],
      ['x'.repeat(2 * 1024 * 1024), { 'content-type': 'application/json' }],
      ['{"value":1}', { 'content-type': 'application/x-nope' }],
    ] as const) {
      const r = await put(body, headers);
      expect(r.status, body.slice(0, 20)).toBe(401);
      expect((await r.json()).code).toBe('CAMD_ERR_AUTH_REQUIRED');
    }
  });

  it('answers every refusal as { error, code, message } with a CAMD_ERR_ code', async () => {
    const put = (body: string, type = 'application/json') => h.fetch('/api/state/streamBitrate', { method: 'PUT', headers: { 'content-type': type }, body });
    const cases: Array<[Response, number, string]> = [
      [await put('{not json'), 400, 'CAMD_ERR_INVALID_JSON_BODY'],
      [await put('{}'), 400, 'CAMD_ERR_VALIDATION'],
      [await put('x'.repeat(2 * 1024 * 1024)), 413, 'CAMD_ERR_BODY_TOO_LARGE'],
      [await put('{"value":1}', 'application/x-nope'), 415, 'CAMD_ERR_INVALID_MEDIA_TYPE'],
    ];
    for (const [r, status, code] of cases) {
      expect(r.status).toBe(status);
      expect(await r.json()).toMatchObject({ error: expect.any(String), code, message: expect.any(String) });
    }
    // A head larger than Node's parser takes (a 100 KB URL): 431 in the same JSON, then closed.
    const big = await raw(h.httpPort, `GET /api/stats?${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(big.text).toMatch(/^HTTP\/1.1 431 /);
    expect(json(big.text)).toMatchObject({ code: 'CAMD_ERR_HEADERS_TOO_LARGE' });
    expect(big.closed).toBe(true);
    // Bytes that are no request: 400 in the same JSON, then closed.
    const junk = await raw(h.httpPort, '\x16\x03\x01 garbage that is not HTTP\r\n\r\n');
    expect(junk.text).toMatch(/^HTTP\/1.1 400 /);
    expect(json(junk.text)).toMatchObject({ code: 'CAMD_ERR_BAD_REQUEST' });
    expect(junk.closed).toBe(true);
    // The API still answers.
    expect((await h.fetch('/api/health', { user: null })).status).toBe(200);
  });
});
