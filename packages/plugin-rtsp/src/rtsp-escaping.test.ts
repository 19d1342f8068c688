import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, rtspHost, type RtspTestHost } from './test-utils.js';

const auth = `Authorization: Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}\r\n`;
const describeRequest = (url: string) => `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\n${auth}Accept: application/sdp\r\n\r\n`;

describe('DESCRIBE: the answer carries nothing of the request but a host name', () => {
  let h: RtspTestHost;
  beforeAll(async () => {
    h = await rtspHost();
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('a request URL whose host is no host name (quotes a URL parser lets through) is 404, not echoed in Content-Base', async () => {
    // WHATWG URL parsing keeps `"` and `'` in an rtsp: host; Content-Base would repeat it.
    const answer = await rawExchange(h.rtspPort, describeRequest(`rtsp://a"b'c:${h.rtspPort}/stream1`));
    expect(answer).toMatch(/^RTSP\/1.0 404 /);
    expect(answer).not.toContain('a"b');
  });

  it('a well-formed one gets an SDP made of the stream and the server alone (one line per field)', async () => {
    const answer = await rawExchange(h.rtspPort, describeRequest(`rtsp://camera.local:${h.rtspPort}/stream1`));
    expect(answer).toMatch(/^RTSP\/1.0 200 /);
    expect(answer).toContain(`Content-Base: rtsp://camera.local:${h.rtspPort}/stream1/\r\n`);
    const sdp = answer
      .slice(answer.indexOf('\r\n\r\n') + 4)
      .split('\r\n')
      .filter(Boolean);
    for (const line of sdp) expect(line).toMatch(/^[a-z]=[\x20-\x7e]*$/);
    expect(sdp).toContain('s=camd stream1');
    expect(sdp.find((l) => l.startsWith('o='))).toMatch(/^o=- \d+ 1 IN IP4 127\.0\.0\.1$/);
    expect(sdp.filter((l) => l.startsWith('a=control:'))).toEqual(['a=control:*', 'a=control:trackID=0']);
  });
});
