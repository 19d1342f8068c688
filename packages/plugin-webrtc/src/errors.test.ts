import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RTCPeerConnection, useH264 } from 'werift';
import { createTestHost, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';
import { WebRtcErrors } from './errors.js';

describe('WebRtcErrors', () => {
  it('keeps the documented codes and statuses', () => {
    expect(Object.fromEntries(Object.entries(WebRtcErrors).map(([k, E]) => [k, [E.code, E.statusCode]]))).toEqual({
      BAD_OFFER: ['CAMD_ERR_WEBRTC_BAD_OFFER', 400],
      OFFER_TOO_LARGE: ['CAMD_ERR_WEBRTC_BAD_OFFER', 413],
      WHEP_NOT_SDP: ['CAMD_ERR_WEBRTC_BAD_OFFER', 415],
      BAD_SDP: ['CAMD_ERR_WEBRTC_BAD_SDP', 400],
      NO_VIDEO: ['CAMD_ERR_WEBRTC_NO_VIDEO', 400],
      CODEC: ['CAMD_ERR_WEBRTC_CODEC', 422],
      NOT_READY: ['CAMD_ERR_WEBRTC_NOT_READY', 503],
      LIMIT: ['CAMD_ERR_WEBRTC_LIMIT', 429],
      USER_LIMIT: ['CAMD_ERR_WEBRTC_LIMIT', 429],
      DISABLED: ['CAMD_ERR_WEBRTC_DISABLED', 503],
      SESSION: ['CAMD_ERR_WEBRTC_SESSION', 404],
      TRICKLE: ['CAMD_ERR_WEBRTC_TRICKLE', 405],
    });
  });
});

/** What a client gets for a refused offer: no media, no browser, the real HTTP server. */
describe('plugin-webrtc error answers', () => {
  let h: TestHost;
  let offer: string;
  beforeAll(async () => {
    h = await createTestHost({ media: false, plugins: [{ def: webrtc, options: { maxViewers: 1, gatherTimeoutMs: 0, connectTimeoutMs: 5000 } }] });
    // A real offer (werift as the browser): recvonly H.264 video with DTLS fingerprint and ICE credentials.
    const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [useH264()] } });
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    offer = pc.localDescription!.sdp;
    await pc.close();
  });
  /** Without media, the stream's parameters come from a keyframe published by hand: constrained baseline (42e01e), as werift offers. */
  const publishKeyframe = () =>
    h.host.hub.publish({
      stream: 'stream1',
      seq: 1,
      data: Buffer.from([0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1e, 0xab, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84]),
      keyframe: true,
      codec: 'h264',
      captureTimeMs: Date.now(),
      rtpTimestamp: 0,
      receivedAt: performance.now(),
      width: 320,
      height: 240,
    });
  afterAll(() => h?.close());

  const post = async (body: string, opts: { type?: string; query?: string; path?: string } = {}) => {
    const res = await h.fetch(opts.path ?? `/api/webrtc/offer${opts.query ?? ''}`, {
      method: 'POST',
      headers: { 'content-type': opts.type ?? 'text/plain' },
      body,
      user: h.users.viewer,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  };
  const answer = (status: number, error: string, code: string, message: string) => ({ status, retryAfter: null, body: { error, code, message } });

  it('answers { error, code, message } with the status, as documented', async () => {
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer }))).toEqual(
      answer(503, 'Service Unavailable', 'CAMD_ERR_WEBRTC_DISABLED', 'WebRTC is disabled: a Media_rw user can set webrtcEnabled to true'),
    );
    const on = await h.fetch('/api/state/webrtcEnabled', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: true }),
      user: h.users.operator,
    });
    expect(on.status).toBe(200);

    expect(await post('{"type":"offer","sdp":')).toEqual(
      answer(400, 'Bad Request', 'CAMD_ERR_WEBRTC_BAD_OFFER', 'the body is not JSON: expected {"type":"offer","sdp":"v=0..."}'),
    );
    expect(await post(JSON.stringify({ type: 'answer', sdp: offer }))).toEqual(
      answer(400, 'Bad Request', 'CAMD_ERR_WEBRTC_BAD_OFFER', '"type" must be "offer" (got "answer")'),
    );
    expect(await post(JSON.stringify({ type: 'offer', sdp: 'hello' }))).toEqual(
      answer(400, 'Bad Request', 'CAMD_ERR_WEBRTC_BAD_SDP', 'the SDP must start with "v=0"'),
    );
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer.replace(/a=fingerprint:.*\r\n/g, '') }))).toEqual(
      answer(400, 'Bad Request', 'CAMD_ERR_WEBRTC_BAD_SDP', "the offer's video section has no a DTLS fingerprint (a=fingerprint)"),
    );
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer.replace('a=recvonly', 'a=sendonly') }))).toEqual(
      answer(400, 'Bad Request', 'CAMD_ERR_WEBRTC_NO_VIDEO', `the offer's video is "sendonly": it must receive video (recvonly)`),
    );
    // A good offer before the encoder's first keyframe: what it will send is not known yet.
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer }))).toEqual({
      ...answer(503, 'Service Unavailable', 'CAMD_ERR_WEBRTC_NOT_READY', 'stream "stream1" has not delivered a keyframe yet; try again'),
      retryAfter: '1',
    });
    publishKeyframe();
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer.replace(/packetization-mode=1/g, 'packetization-mode=0') }))).toEqual(
      answer(
        422,
        'Unprocessable Entity',
        'CAMD_ERR_WEBRTC_CODEC',
        'the offer has no H.264 video with packetization-mode=1: stream "stream1" is H.264, streamed as encoded without transcoding (offered: H264)',
      ),
    );
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer }), { query: '?stream=nope' })).toEqual(
      answer(404, 'Not Found', 'CAMD_ERR_STREAM_UNKNOWN', 'no stream "nope" (streams: stream1)'),
    );
    expect(await post(offer, { path: '/whep/stream1', type: 'text/plain' })).toEqual(
      answer(415, 'Unsupported Media Type', 'CAMD_ERR_WEBRTC_BAD_OFFER', 'WHEP offers are sent as Content-Type: application/sdp'),
    );
    expect(await post(offer.replace(/a=ice-pwd:.*\r\n/g, ''), { path: '/whep/stream1', type: 'application/sdp' })).toEqual(
      answer(400, 'Bad Request', 'CAMD_ERR_WEBRTC_BAD_SDP', "the offer's video section has no ICE credentials (a=ice-pwd)"),
    );

    const del = await h.fetch('/api/webrtc/sessions/x', { method: 'DELETE', user: h.users.viewer });
    expect([del.status, await del.json()]).toEqual([404, { error: 'Not Found', code: 'CAMD_ERR_WEBRTC_SESSION', message: 'no such session' }]);
    const whepDel = await h.fetch('/whep/stream1/sessions/x', { method: 'DELETE', user: h.users.viewer });
    expect([whepDel.status, await whepDel.json()]).toEqual([404, { error: 'Not Found', code: 'CAMD_ERR_WEBRTC_SESSION', message: 'no such WHEP session' }]);
    const patch = await h.fetch('/whep/stream1/sessions/x', { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag' }, body: 'a=x' });
    expect([patch.status, patch.headers.get('allow'), await patch.json()]).toEqual([
      405,
      'DELETE',
      { error: 'Method Not Allowed', code: 'CAMD_ERR_WEBRTC_TRICKLE', message: 'trickle ICE is not supported: the answer holds all candidates' },
    ]);
  });

  it('answers 429 with Retry-After beyond maxViewers', async () => {
    const first = await h.fetch('/api/webrtc/offer', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ type: 'offer', sdp: offer }),
      user: h.users.viewer,
    });
    expect(first.status).toBe(200);
    expect(await post(JSON.stringify({ type: 'offer', sdp: offer }))).toEqual({
      ...answer(429, 'Too Many Requests', 'CAMD_ERR_WEBRTC_LIMIT', '1 WebRTC viewers are connected, the limit is 1 (option maxViewers)'),
      retryAfter: '5',
    });
    expect((await h.fetch(first.headers.get('location')!, { method: 'DELETE', user: h.users.viewer })).status).toBe(204);
  });
});

/** One user's viewers are capped (maxViewersPerUser): another user still gets in. */
describe('plugin-webrtc per-user viewer cap', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({
      media: false,
      plugins: [{ def: webrtc, options: { maxViewers: 4, maxViewersPerUser: 1, gatherTimeoutMs: 0, connectTimeoutMs: 5000 } }],
    });
  });
  afterAll(() => h?.close());

  it("answers 429 with Retry-After past a user's maxViewersPerUser, and admits another user", async () => {
    const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [useH264()] } });
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const body = JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp });
    await pc.close();
    expect((await h.fetch('/api/state/webrtcEnabled', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"value":true}' })).status).toBe(
      200,
    );
    // Without media, the stream's parameters come from a keyframe published by hand (constrained baseline, as werift offers).
    h.host.hub.publish({
      stream: 'stream1',
      seq: 1,
      data: Buffer.from([0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1e, 0xab, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84]),
      keyframe: true,
      codec: 'h264',
      captureTimeMs: Date.now(),
      rtpTimestamp: 0,
      receivedAt: performance.now(),
      width: 320,
      height: 240,
    });
    const offer = (user: typeof h.users.viewer) => h.fetch('/api/webrtc/offer', { method: 'POST', headers: { 'content-type': 'text/plain' }, body, user });
    const first = await offer(h.users.viewer);
    expect(first.status).toBe(200);
    const second = await offer(h.users.viewer);
    expect([second.status, second.headers.get('retry-after'), await second.json()]).toEqual([
      429,
      '5',
      {
        error: 'Too Many Requests',
        code: 'CAMD_ERR_WEBRTC_LIMIT',
        message: 'viewer has 1 WebRTC viewers, the limit per user is 1 (option maxViewersPerUser)',
      },
    ]);
    const other = await offer(h.users.operator);
    expect(other.status).toBe(200);
    for (const [r, user] of [
      [first, h.users.viewer],
      [other, h.users.operator],
    ] as const)
      expect((await h.fetch(r.headers.get('location')!, { method: 'DELETE', user })).status).toBe(204);
  });
});
