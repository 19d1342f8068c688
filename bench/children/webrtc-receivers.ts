/**
 * Child process of bench/webrtc.ts: N werift receivers of one stream (a WebRTC stack that decrypts but
 * does not decode, so the machine's cores go to the daemon, not to N video decoders). Prints one JSON
 * line when all are connected, then on "measure <ms>" the frames each received in that window.
 * Usage: tsx bench/children/webrtc-receivers.ts <baseUrl> <user:password> <stream> <count>
 */
import { createInterface } from 'node:readline';
import { RTCPeerConnection, useH264 } from 'werift';

const [baseUrl, credentials, stream, countArg] = process.argv.slice(2) as [string, string, string, string];
const auth = 'Basic ' + Buffer.from(credentials).toString('base64');
const frames: number[] = [];
const peers: RTCPeerConnection[] = [];

async function connect(i: number): Promise<void> {
  // Main profile, as the benchmarked stream is: the exact profile, no profileMismatch.
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    codecs: { video: [useH264({ parameters: 'profile-level-id=4d001f;packetization-mode=1;level-asymmetry-allowed=1' })] },
  });
  peers.push(pc);
  frames[i] = 0;
  pc.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => void (p.header.marker && frames[i]!++)));
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`${baseUrl}/api/webrtc/offer?stream=${stream}`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp }),
  });
  if (!res.ok) throw new Error(`offer ${i}: ${res.status} ${await res.text()}`);
  await pc.setRemoteDescription((await res.json()) as { type: 'answer'; sdp: string });
  await new Promise<void>((resolve) =>
    pc.connectionState === 'connected' ? resolve() : pc.connectionStateChange.subscribe((s) => s === 'connected' && resolve()),
  );
}

const n = Number(countArg);
for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => connect(i + k)));
console.log(JSON.stringify({ connected: n }));
for await (const line of createInterface({ input: process.stdin })) {
  const m = /^measure (\d+)$/.exec(line);
  if (!m) break;
  const start = [...frames];
  await new Promise((r) => setTimeout(r, Number(m[1])));
  console.log(JSON.stringify({ frames: frames.map((f, i) => f - start[i]!) }));
}
await Promise.all(peers.map((p) => p.close()));
process.exit(0);
