import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rtspHost, type RtspTestHost } from './test-utils.js';

/** Sends bytes on a new connection; resolves with what came back and how long until the server closed. */
function exchange(port: number, data: Buffer | string, limitMs = 15_000): Promise<{ text: string; closedAfterMs?: number }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const start = Date.now();
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text });
    }, limitMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - start });
    });
    s.on('error', () => undefined);
    s.on('connect', () => s.write(data));
  });
}

describe('plugin-rtsp against hostile requests: an answer and a close, never a held connection', () => {
  let h: RtspTestHost;
  beforeAll(async () => {
    h = await rtspHost(undefined, { headTimeoutMs: 1000 });
  });
  afterAll(async () => h?.close());

  it.each([
    ['a mangled version, the request line alone', Buffer.from('OPTIONS rtsp://127.0.0.1/stream1 RT\xbbP/1.0\r\n', 'latin1'), /^RTSP\/1.0 400 /],
    ['another mangled version', 'DESCRIBE rtsp://127.0.0.1/stream1 RrSP/1.0\r\nCSeq: 1\r\n', /^RTSP\/1.0 400 /],
    [
      'a declared body far over the limit',
      'SET_PARAMETER rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 999999999\r\n\r\nx',
      /^RTSP\/1.0 413 /,
    ],
    ['64 KiB of quotes', '"'.repeat(64 * 1024), /^RTSP\/1.0 400 /],
  ])('%s: answered and closed within 1 s', async (_name, data, answer) => {
    const r = await exchange(h.rtspPort, data);
    expect(r.text).toMatch(answer);
    expect(r.closedAfterMs).toBeLessThan(1000);
  });

  it('a head that never ends is answered 408 and closed after the head timeout', async () => {
    const r = await exchange(h.rtspPort, 'OPTIONS rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 3\r\n');
    expect(r.text).toMatch(/^RTSP\/1.0 408 Request Timeout/);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(r.closedAfterMs).toBeLessThan(3000);
    // Well-formed requests are untouched.
    expect((await exchange(h.rtspPort, 'OPTIONS rtsp://127.0.0.1/stream1 RTSP/1.0\r\nCSeq: 4\r\n\r\n', 1500)).text).toMatch(/^RTSP\/1.0 200 OK/);
  });
});
