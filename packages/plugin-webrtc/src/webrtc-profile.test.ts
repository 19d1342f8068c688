import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RTCPeerConnection, useH264, type RtpPacket } from 'werift';
import { createTestHost, putState, testStream, until, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';

interface ClientStats {
  codec: string;
  profile: string | null;
  answeredProfile: string | null;
  profileMismatch: boolean;
  packets: number;
}
const clients = async (h: TestHost) =>
  ((await (await h.fetch('/api/stats')).json()) as Record<string, { webrtc: { clients: ClientStats[] } }>).stream1!.webrtc.clients;

/**
 * A werift receiver (a WebRTC stack nobody here wrote) offering Constrained Baseline only, as some
 * embedded clients and the @roamhq/wrtc-style stacks do: returns the peer, the answer's status, and
 * the NAL unit types of the first packets it received (depacketisation is werift's).
 */
async function receiver(h: TestHost, profileLevelId: string) {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    codecs: { video: [useH264({ parameters: `profile-level-id=${profileLevelId};packetization-mode=1;level-asymmetry-allowed=1` })] },
  });
  const frames = { complete: 0, nalTypes: new Set<number>() };
  pc.onTrack.subscribe((t) =>
    t.onReceiveRtp.subscribe((p: RtpPacket) => {
      const first = p.payload[0]! & 0x1f;
      // FU-A (28) carries the NAL type in its second byte.
      frames.nalTypes.add(first === 28 ? p.payload[1]! & 0x1f : first);
      if (p.header.marker) frames.complete++;
    }),
  );
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const res = await h.fetch('/api/webrtc/offer?stream=stream1', {
    method: 'POST',
    user: h.users.viewer,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp }),
  });
  const body = (await res.json()) as { sdp?: string; message?: string };
  if (res.ok) await pc.setRemoteDescription({ type: 'answer', sdp: body.sdp! });
  return { pc, status: res.status, body, frames };
}

describe('plugin-webrtc: profile negotiation with a werift receiver', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { connectTimeoutMs: 5000, disconnectTimeoutMs: 3000 } }],
      config: { streams: [testStream({ profile: 'main' })] },
    });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    await h.host.hub.waitForParameters('stream1', 20_000);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a receiver offering Constrained Baseline only plays a Main stream: sent under its format, flagged profileMismatch in stats and in one log line', async () => {
    const r = await receiver(h, '42e01f');
    try {
      expect(r.status).toBe(200);
      expect(r.body.sdp).toMatch(/^a=fmtp:\d+ .*profile-level-id=42e01f/m);
      // Whole frames arrive, starting with the parameter sets and an IDR a decoder can start from.
      await until(() => r.frames.complete > 20, 20_000, 'frames at the receiver');
      expect([...r.frames.nalTypes]).toEqual(expect.arrayContaining([7, 8, 5]));
      const [c] = await clients(h);
      expect(c).toMatchObject({ codec: 'h264', profile: expect.stringMatching(/^4d/), answeredProfile: '42e01f', profileMismatch: true });
      const lines = h
        .recentLog()
        .split('\n')
        .filter((l) => l.includes('profileMismatch'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/stream \\"stream1\\" is H.264 main .*sent as the offered constrained-baseline format/);
    } finally {
      await r.pc.close();
    }
    await until(async () => (await clients(h)).length === 0, 10_000, 'the viewer to leave');
  });

  it('a receiver whose offer covers the stream by Annex A plays it with no mismatch (High decodes Main)', async () => {
    const r = await receiver(h, '64001f');
    try {
      expect(r.status).toBe(200);
      await until(() => r.frames.complete > 5, 20_000, 'frames at the receiver');
      expect((await clients(h))[0]).toMatchObject({ answeredProfile: '64001f', profileMismatch: false });
    } finally {
      await r.pc.close();
    }
    await until(async () => (await clients(h)).length === 0, 10_000, 'the viewer to leave');
  });
});

describe('plugin-webrtc: strictProfile', () => {
  let h: TestHost;
  afterAll(async () => {
    await h?.close();
  });

  it('refuses with 422 an offer none of whose profiles decodes the stream, naming both sides', async () => {
    h = await createTestHost({
      plugins: [{ def: webrtc, options: { strictProfile: true } }],
      config: { streams: [testStream({ profile: 'main' })] },
    });
    expect((await putState(h, 'webrtcEnabled', true)).status).toBe(200);
    await h.host.hub.waitForParameters('stream1', 20_000);
    const r = await receiver(h, '42e01f');
    await r.pc.close();
    expect(r.status).toBe(422);
    expect(r.body.message).toMatch(
      /^stream "stream1" is H\.264 main \(profile-level-id 4d....\) and this browser offers H\.264 constrained-baseline only, none of which decodes it \(option strictProfile\)/,
    );
    // What Annex A covers is still answered.
    const ok = await receiver(h, '64001f');
    await ok.pc.close();
    expect(ok.status).toBe(200);
  });
});
