import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI, type MediaStreamTrack, type RtpPacket } from 'werift';
import { depacketizeH265, RTP_HEADER } from '@camd/core';
import { createTestHost, testStream, type TestHost } from '@camd/core/testing';
import webrtc from './index.js';

/**
 * H.265 over WebRTC where the offer carries it. Debian's Chromium offers no H.265, so werift plays the
 * receiving peer (as an H.265-capable browser would offer: `H265/90000`, profile-id 1), and what it
 * receives is reassembled and decoded by ffmpeg.
 */
describe('plugin-webrtc: H.265 to a peer that offers it', () => {
  let h: TestHost;
  let pc: RTCPeerConnection;
  let answer = '';
  const packets: RtpPacket[] = [];

  beforeAll(async () => {
    h = await createTestHost({ plugins: [webrtc], config: { streams: [testStream({ codec: 'h265' })] } });
    await h.fetch('/api/state/webrtcEnabled', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: true }) });
    await h.host.hub.waitForParameters('stream1', 20_000);
    pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      codecs: {
        video: [
          new RTCRtpCodecParameters({
            mimeType: 'video/H265',
            clockRate: 90000,
            rtcpFeedback: [useNACK(), usePLI()],
            parameters: 'profile-id=1;tier-flag=0;level-id=93;tx-mode=SRST',
          }),
        ],
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
    const body = (await res.json()) as { type: 'answer'; sdp: string };
    answer = body.sdp;
    await pc.setRemoteDescription(body);
    const track = await gotTrack;
    track.onReceiveRtp.subscribe((p) => void packets.push(p.clone()));
  }, 40_000);
  afterAll(async () => {
    await pc?.close();
    await h?.close();
  });

  it("answers H265/90000 with the SPS's profile, tier and level, and sends H.265 that ffmpeg decodes", async () => {
    const ptl = h.host.hub.parameters('stream1')!.h265!;
    const pt = Number(/^a=rtpmap:(\d+) H265\/90000/im.exec(answer)?.[1]);
    expect(pt).toBeGreaterThan(0);
    expect(answer).toMatch(new RegExp(`^a=fmtp:${pt} profile-id=${ptl.profileId};tier-flag=${ptl.tierFlag};level-id=${ptl.levelId}\\r?$`, 'm'));
    expect(answer).not.toMatch(/H264/);
    await expect.poll(() => packets.length, { timeout: 15_000 }).toBeGreaterThan(200);
    // What arrived so far (more keeps coming while ffmpeg decodes).
    const got = packets.slice();
    expect(got.every((p) => p.header.payloadType === pt)).toBe(true);
    // The first packet is the keyframe's parameter sets (an AP, type 48), as camd packetises them.
    expect((got[0]!.payload[0]! >> 1) & 0x3f).toBe(48);
    // No packet lost or reordered on loopback: the sequence runs on.
    const seqs = got.map((p) => p.header.sequenceNumber);
    expect(seqs.slice(1).every((q, i) => q === ((seqs[i]! + 1) & 0xffff))).toBe(true);
    const raw = got.map((p) => Buffer.concat([p.header.serialize(RTP_HEADER), p.payload]));
    const stream = depacketizeH265(raw);
    const ff = spawn('ffmpeg', ['-v', 'error', '-f', 'hevc', '-i', 'pipe:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let err = '';
    ff.stdout.on('data', (d: Buffer) => void (bytes += d.length));
    ff.stderr.on('data', (d) => void (err += d));
    ff.stdin.end(stream);
    const code = await new Promise<number | null>((r) => ff.on('close', r));
    expect(err).toBe('');
    expect(code).toBe(0);
    // Whole 320x240 pictures, one per access unit received whole (its last packet carries the marker).
    const frames = bytes / (320 * 240);
    expect(Number.isInteger(frames)).toBe(true);
    expect(frames).toBe(got.filter((p) => p.header.marker).length);
  });
});
