/**
 * Child process of bench/webrtc-anchor.ts: N werift receivers (a WebRTC stack that decrypts but does
 * not decode) of one stream, from camd (`POST /api/webrtc/offer`, the receiver offers) or from Janus's
 * streaming plugin (HTTP API: Janus offers, the receiver answers). The same receivers for both, so
 * the servers are compared, not the clients (they skip SRTP payload decryption, see below). Prints one JSON line when all are connected, then on
 * "measure <ms>" the frames each received in that window (marker bits).
 * ICE stays on loopback-range addresses: pairs with any other remote address are refused.
 * Usage: tsx bench/children/anchor-receivers.ts camd|camd-vp8|camd-vp9|camd-av1 <baseUrl> <user:password> <stream> <count>
 *        tsx bench/children/anchor-receivers.ts janus <janusUrl> <mountpoint id> <count>
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { GenericNack, RTCPeerConnection, RTCRtpCodecParameters, SrtpSession, useH264, useVP8, useVP9 } from 'werift';

// The receivers count frames by the RTP marker bit, which SRTP leaves in the clear: skipping the
// payload's decryption (in JavaScript, per packet) keeps 50 receivers in one process from taking a
// whole core of this two-core machine, where they would drop packets for want of CPU, not because a
// server's bursts overflowed their buffers. Sender reports (SRTCP) are still decrypted.
SrtpSession.prototype.decrypt = (packet: Buffer) => packet;

// Sequence numbers the receivers NACK (werift asks for every gap it sees): retransmission requests.
let nacked = 0;
const serializeNack = GenericNack.prototype.serialize;
GenericNack.prototype.serialize = function (this: GenericNack) {
  nacked += this.lost.length;
  return serializeNack.call(this);
};

// RECEIVER_RCVBUF=<bytes>: receive buffers of that size instead of the system default (208 KiB here;
// up to net.core.rmem_max, 4 MiB here), to tell a server's bursts from the receivers' own limits.
const rcvbuf = Number(process.env.RECEIVER_RCVBUF ?? 0);
if (rcvbuf > 0) {
  const create = dgram.createSocket;
  (dgram as { createSocket: typeof create }).createSocket = ((...a: Parameters<typeof create>) => {
    const socket = create(...a);
    socket.once('listening', () => socket.setRecvBufferSize(rcvbuf));
    return socket;
  }) as typeof create;
}

const [mode, ...args] = process.argv.slice(2) as [string, ...string[]];
const RECEIVER_CODEC: Record<string, RTCRtpCodecParameters | undefined> = {
  'camd-vp8': useVP8(),
  'camd-vp9': useVP9({ parameters: 'profile-id=0' }),
  'camd-av1': new RTCRtpCodecParameters({ mimeType: 'video/AV1', clockRate: 90000, parameters: 'profile=0' }),
};
const frames: number[] = [];
const peers: RTCPeerConnection[] = [];

function peer(i: number): RTCPeerConnection {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    iceFilterCandidatePair: (pair) => pair.remoteCandidate.host.startsWith('127.') && pair.localCandidate.host.startsWith('127.'),
    // `camd-vp8`, `camd-vp9`, `camd-av1`: a receiver without H.264, which camd serves from the stream's derived encoding.
    codecs: { video: [RECEIVER_CODEC[mode] ?? useH264({ parameters: 'profile-level-id=4d001f;packetization-mode=1;level-asymmetry-allowed=1' })] },
  });
  peers.push(pc);
  frames[i] = 0;
  pc.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((p) => void (p.header.marker && frames[i]!++)));
  return pc;
}

const connected = (pc: RTCPeerConnection) =>
  new Promise<void>((resolve) => (pc.connectionState === 'connected' ? resolve() : pc.connectionStateChange.subscribe((s) => s === 'connected' && resolve())));

async function camd(i: number, baseUrl: string, credentials: string, stream: string): Promise<void> {
  const pc = peer(i);
  pc.addTransceiver('video', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`${baseUrl}/api/webrtc/offer?stream=${stream}`, {
    method: 'POST',
    headers: { authorization: 'Basic ' + Buffer.from(credentials).toString('base64'), 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp }),
  });
  if (!res.ok) throw new Error(`offer ${i}: ${res.status} ${await res.text()}`);
  await pc.setRemoteDescription((await res.json()) as { type: 'answer'; sdp: string });
  await connected(pc);
}

/** Janus's HTTP API: one session, one streaming-plugin handle per receiver, events by long poll. */
class Janus {
  private session = 0;
  private readonly waiting = new Map<number, (jsep: { type: 'offer'; sdp: string }) => void>();
  private polling = true;
  constructor(private readonly base: string) {}

  private async call(path: string, body: Record<string, unknown>): Promise<any> {
    const res = await fetch(this.base + path, { method: 'POST', body: JSON.stringify({ transaction: Math.random().toString(36).slice(2), ...body }) });
    return res.json();
  }

  async open(): Promise<void> {
    this.session = (await this.call('/janus', { janus: 'create' })).data.id;
    void this.poll();
  }

  private async poll(): Promise<void> {
    while (this.polling) {
      const events = (await (await fetch(`${this.base}/janus/${this.session}?maxev=50`)).json().catch(() => [])) as any;
      for (const e of Array.isArray(events) ? events : [events]) if (e?.jsep?.type === 'offer') this.waiting.get(e.sender)?.(e.jsep);
    }
  }

  async watch(i: number, mountpoint: number): Promise<void> {
    const handle = (await this.call(`/janus/${this.session}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id as number;
    const offer = new Promise<{ type: 'offer'; sdp: string }>((resolve) => this.waiting.set(handle, resolve));
    await this.call(`/janus/${this.session}/${handle}`, { janus: 'message', body: { request: 'watch', id: mountpoint } });
    const pc = peer(i);
    await pc.setRemoteDescription(await offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && r())));
    await this.call(`/janus/${this.session}/${handle}`, {
      janus: 'message',
      body: { request: 'start' },
      jsep: { type: 'answer', sdp: pc.localDescription!.sdp },
    });
    await this.call(`/janus/${this.session}/${handle}`, { janus: 'trickle', candidate: { completed: true } });
    await connected(pc);
  }

  keepalive(): NodeJS.Timeout {
    return setInterval(() => void this.call(`/janus/${this.session}`, { janus: 'keepalive' }).catch(() => undefined), 20_000);
  }

  close(): void {
    this.polling = false;
  }
}

let janus: Janus | undefined;
let n: number;
let connect: (i: number) => Promise<void>;
if (mode === 'janus') {
  const [url, id, count] = args as [string, string, string];
  janus = new Janus(url);
  await janus.open();
  janus.keepalive().unref();
  n = Number(count);
  connect = (i) => janus!.watch(i, Number(id));
} else {
  const [baseUrl, credentials, stream, count] = args as [string, string, string, string];
  n = Number(count);
  connect = (i) => camd(i, baseUrl, credentials, stream);
}
for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => connect(i + k)));
console.log(JSON.stringify({ connected: n }));
for await (const line of createInterface({ input: process.stdin })) {
  const m = /^measure (\d+)$/.exec(line);
  if (!m) break;
  const start = [...frames];
  const nacked0 = nacked;
  await new Promise((r) => setTimeout(r, Number(m[1])));
  console.log(JSON.stringify({ frames: frames.map((f, i) => f - start[i]!), nacks: nacked - nacked0 }));
}
janus?.close();
await Promise.all(peers.map((p) => p.close()));
process.exit(0);
