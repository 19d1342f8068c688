import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenericNack, RTCPeerConnection, RtcpTransportLayerFeedback, useH264, useNACK, usePLI, type MediaStreamTrack, type RtpPacket } from 'werift';
import { createTestHost, testStream, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';

/** NAL type the packet starts (FU-A: the fragmented NAL's type, on its first fragment only). */
function startsNal(p: RtpPacket): number | undefined {
  const t = p.payload[0]! & 0x1f;
  if (t === 28) return p.payload[1]! & 0x80 ? p.payload[1]! & 0x1f : undefined;
  if (t === 24) return p.payload[3]! & 0x1f; // STAP-A: the first aggregated NAL
  return t;
}

/**
 * werift as the receiving peer (a WebRTC stack nobody here wrote, driven from node so that RTCP can
 * be sent on purpose): keyframe on join, PLI answered with a keyframe well before the stream's 10 s
 * GOP would bring one, NACK answered with the lost packet.
 */
describe('plugin-webrtc RTCP with a werift receiver', () => {
  let h: TestHost;
  let pc: RTCPeerConnection;
  const packets: { at: number; p: RtpPacket }[] = [];
  let track: MediaStreamTrack;
  let connectedAt = 0;

  beforeAll(async () => {
    h = await createTestHost({ plugins: [webrtc], config: { streams: [testStream({ fps: 30, gop: 300 })] } });
    await h.fetch('/api/state/webrtcEnabled', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: true }) });
    await h.host.hub.waitForParameters('stream1', 15_000);
    // Let the stream's first keyframe go by: a viewer joining now must get a fresh one on request.
    await new Promise((r) => setTimeout(r, 1500));
    pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      // The test stream's profile (main): camd answers only the profile it sends.
      codecs: {
        video: [useH264({ rtcpFeedback: [useNACK(), usePLI()], parameters: 'profile-level-id=4d001f;packetization-mode=1;level-asymmetry-allowed=1' })],
      },
    });
    const gotTrack = new Promise<MediaStreamTrack>((resolve) => pc.onTrack.subscribe((t) => resolve(t)));
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) =>
      pc.iceGatheringState === 'complete' ? resolve() : pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && resolve()),
    );
    const res = await h.fetch('/api/webrtc/offer', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp }),
      user: h.users.viewer,
    });
    expect(res.status).toBe(200);
    await pc.setRemoteDescription((await res.json()) as { type: 'answer'; sdp: string });
    pc.connectionStateChange.subscribe((s) => s === 'connected' && (connectedAt = Date.now()));
    track = await gotTrack;
    track.onReceiveRtp.subscribe((p) => void packets.push({ at: Date.now(), p: p.clone() }));
  }, 30_000);
  afterAll(async () => {
    await pc?.close();
    await h?.close();
  });

  const idrs = (since: number) => packets.filter((x) => x.at >= since && [5, 7].includes(startsNal(x.p) ?? -1));

  it('a new viewer starts at a keyframe requested for it, not at the next scheduled one', async () => {
    await expect.poll(() => packets.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect([5, 7]).toContain(startsNal(packets[0]!.p));
    // The scheduled keyframe is 10 s apart; the requested one arrives within a few frames.
    expect(packets[0]!.at - connectedAt).toBeLessThan(2000);
  });

  it('PLI brings a keyframe long before the GOP would', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const asked = Date.now();
    const receiver = pc.getTransceivers()[0]!.receiver;
    await receiver.sendRtcpPLI(track.ssrc!);
    await expect.poll(() => idrs(asked).length, { timeout: 3000 }).toBeGreaterThan(0);
    const stats = (await (await h.fetch('/api/stats')).json()) as { stream1: { webrtc: { clients: { keyframeRequests: number }[] } } };
    expect(stats.stream1.webrtc.clients[0]!.keyframeRequests).toBeGreaterThanOrEqual(1);
  });

  it('NACK gets the lost packet again', async () => {
    const victim = packets[packets.length - 5]!.p.header.sequenceNumber;
    const before = packets.filter((x) => x.p.header.sequenceNumber === victim).length;
    const nack = new GenericNack({ senderSsrc: 1, mediaSourceSsrc: track.ssrc!, lost: [victim] });
    await pc.getTransceivers()[0]!.receiver.dtlsTransport.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })]);
    await expect.poll(() => packets.filter((x) => x.p.header.sequenceNumber === victim).length, { timeout: 3000 }).toBe(before + 1);
  });
});
