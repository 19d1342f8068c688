import type { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { StreamHub, type Caller, type EncodedFrame } from '@camd/core';
import { RtspSession, type SessionEvents, type SessionOptions } from './rtsp-session.js';
import type { Transport } from './transport-header.js';

const TCP: Transport = { kind: 'tcp', rtpChannel: 0, rtcpChannel: 1 };
const UDP: Transport = { kind: 'udp', address: '192.0.2.1', rtpPort: 5000, rtcpPort: 5001 };
const caller = { username: 'viewer', permissions: ['Media_r'] } as unknown as Caller;

let seq = 0;
function frame(keyframe = true): EncodedFrame {
  seq++;
  return {
    stream: 'stream1',
    seq,
    data: Buffer.from([0, 0, 0, 1, keyframe ? 0x65 : 0x41, 1]),
    keyframe,
    codec: 'h264',
    captureTimeMs: seq,
    rtpTimestamp: seq * 3000,
    receivedAt: performance.now(),
    width: 320,
    height: 240,
  };
}

/** A socket that records what is written and says how much it holds unsent. */
class FakeSocket {
  writes: Buffer[] = [];
  destroyed = false;
  writableLength = 0;
  private listeners = new Map<string, Array<() => void>>();
  cork() {}
  uncork() {}
  write(b: Buffer) {
    this.writes.push(Buffer.from(b));
    return true;
  }
  once(ev: string, fn: () => void) {
    this.listeners.set(ev, [...(this.listeners.get(ev) ?? []), fn]);
  }
  off(ev: string, fn: () => void) {
    this.listeners.set(
      ev,
      (this.listeners.get(ev) ?? []).filter((f) => f !== fn),
    );
  }
  emit(ev: string) {
    for (const f of this.listeners.get(ev) ?? []) f();
  }
  /** What was written, as one stream of bytes. */
  get bytes() {
    return Buffer.concat(this.writes);
  }
}

function session(opts: Partial<SessionOptions> = {}) {
  const hub = new StreamHub();
  const subscribe = vi.spyOn(hub, 'subscribe');
  const requestKeyframe = vi.spyOn(hub, 'requestKeyframe');
  const socket = new FakeSocket();
  const udp: Array<[string, Buffer, number, string]> = [];
  const log: string[] = [];
  const events: SessionEvents = {
    started: (s) => void log.push(`started ${s.state}`),
    closed: (_s, reason, started) => void log.push(`closed ${reason} ${started}`),
    stalled: () => void log.push('stalled'),
    rejected: (_s, reason) => void log.push(`rejected ${reason}`),
  };
  const s = new RtspSession({
    stream: 'stream1',
    caller,
    ownerId: 'conn1',
    remoteAddress: '192.0.2.1',
    hub,
    packets: { ssrc: 0x1234abcd, packetsOf: (f) => [Buffer.from(`rtp-${f.seq}-a`), Buffer.from(`rtp-${f.seq}-b`)] },
    limits: { maxQueue: 30, highWater: 1000, stallMs: 50 },
    negotiated: { codec: 'h264', width: 320, height: 240, fps: 0 },
    timeoutMs: 60_000,
    sink: {
      socket: socket as unknown as Socket,
      sendUdp: (p, port, address) => void udp.push(['rtp', p, port, address]),
      sendUdpRtcp: (p, port, address) => void udp.push(['rtcp', p, port, address]),
    },
    events,
    ...opts,
  });
  return { s, hub, subscribe, requestKeyframe, socket, udp, log };
}

describe('RtspSession state (RFC 2326 Appendix A)', () => {
  it('goes init → ready (SETUP) → playing (PLAY) → ready (PAUSE) → playing → closed (TEARDOWN)', () => {
    const { s, subscribe, requestKeyframe, log } = session();
    expect(s.state).toBe('init');
    expect(s.setup(TCP)).toBe(true);
    expect([s.state, s.transport]).toEqual(['ready', TCP]);
    expect(s.play()).toBe(true);
    expect(s.state).toBe('playing');
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(subscribe.mock.calls[0]![1]).toMatchObject({ name: 'rtsp 192.0.2.1 viewer', maxQueue: 30 });
    expect(requestKeyframe).toHaveBeenCalledWith('stream1');
    expect(s.pause()).toBe(true);
    expect(s.state).toBe('ready');
    expect(s.play()).toBe(true);
    expect(subscribe).toHaveBeenCalledTimes(2);
    s.teardown('teardown');
    expect(s.state).toBe('closed');
    // Announced once however often it resumes, and closed once with the matching flag.
    expect(log).toEqual(['started playing', 'closed teardown true']);
  });

  it('refuses PLAY and PAUSE before SETUP, and a second SETUP (one track per session)', () => {
    const { s, subscribe } = session();
    expect(s.play()).toBe(false);
    expect(s.pause()).toBe(false);
    expect(s.state).toBe('init');
    expect(subscribe).not.toHaveBeenCalled();
    s.setup(TCP);
    expect(s.setup(UDP)).toBe(false);
    expect(s.transport).toEqual(TCP);
    s.play();
    expect(s.setup(UDP)).toBe(false);
    expect(s.state).toBe('playing');
  });

  it('treats PLAY while playing and PAUSE while ready as no change', () => {
    const { s, subscribe } = session();
    s.setup(TCP);
    expect(s.pause()).toBe(true);
    expect(s.state).toBe('ready');
    s.play();
    expect(s.play()).toBe(true);
    expect(subscribe).toHaveBeenCalledTimes(1);
  });

  it('ends once, whatever ends it, and refuses everything afterwards', () => {
    const { s, log } = session();
    s.setup(UDP);
    s.teardown('timeout');
    s.teardown('teardown');
    expect(log).toEqual(['closed timeout false']);
    expect([s.setup(TCP), s.play(), s.pause()]).toEqual([false, false, false]);
    expect(s.state).toBe('closed');
  });

  it('stops reading its stream on PAUSE and TEARDOWN', () => {
    const { s, hub, socket } = session();
    s.setup(TCP);
    s.play();
    hub.publish(frame());
    const n = socket.writes.length;
    expect(n).toBeGreaterThan(0);
    s.pause();
    hub.publish(frame());
    expect(socket.writes.length).toBe(n);
    s.play();
    s.teardown('teardown');
    hub.publish(frame());
    expect(socket.writes.length).toBe(n);
  });

  it('is bound to the codec it negotiated: a frame of another codec is never written, the session is reported rejected with the reason', async () => {
    const { s, hub, socket, log } = session();
    s.setup(TCP);
    s.play();
    hub.publish(frame());
    const n = socket.writes.length;
    hub.resetParameters('stream1');
    // An H.265 keyframe: VPS, SPS, PPS, IDR.
    hub.publish({
      ...frame(),
      codec: 'h265',
      data: Buffer.from([0, 0, 0, 1, 0x40, 1, 0, 0, 0, 1, 0x42, 1, 1, 1, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 90, 0, 0, 0, 1, 0x44, 1, 0, 0, 0, 1, 0x26, 1, 7]),
    });
    hub.publish({ ...frame(false), codec: 'h265' });
    await Promise.resolve();
    expect(socket.writes.length).toBe(n);
    expect(s.codec).toBe('h264');
    expect(log.at(-1)).toBe('rejected stream stream1 changed from H.264 to H.265; this session negotiated H.264: DESCRIBE again');
  });

  it('announces its id and timeout in seconds for the Session header (RFC 2326 §12.37)', () => {
    const { s } = session({ timeoutMs: 45_400 });
    expect(s.id).toMatch(/^[0-9a-f]{16}$/);
    expect(s.header).toBe(`${s.id};timeout=45`);
    expect(s.ssrc).toBe(0x1234abcd);
  });
});

describe('RtspSession delivery', () => {
  it('sends each packet of a frame in a $-frame on its RTP channel (RFC 2326 §10.12), and counts them', () => {
    const { s, hub, socket } = session();
    s.setup({ kind: 'tcp', rtpChannel: 4, rtcpChannel: 5 });
    s.play();
    const f = frame();
    hub.publish(f);
    const a = Buffer.from(`rtp-${f.seq}-a`);
    const b = Buffer.from(`rtp-${f.seq}-b`);
    expect(socket.bytes).toEqual(Buffer.concat([Buffer.from([0x24, 4, 0, a.length]), a, Buffer.from([0x24, 4, 0, b.length]), b]));
    expect([s.packets, s.bytes]).toEqual([2, a.length + b.length]);
    // A sender report counts payload octets only, without the 12-byte RTP headers.
    expect(s.payloadOctets).toBe(a.length + b.length - 2 * 12);
  });

  it('sends RTP over UDP to the client port and address of its transport', () => {
    const { s, hub, udp, socket } = session();
    s.setup(UDP);
    s.play();
    const f = frame();
    hub.publish(f);
    expect(udp).toEqual([
      ['rtp', Buffer.from(`rtp-${f.seq}-a`), 5000, '192.0.2.1'],
      ['rtp', Buffer.from(`rtp-${f.seq}-b`), 5000, '192.0.2.1'],
    ]);
    expect(socket.writes).toEqual([]);
  });

  it('sends RTCP the way its RTP goes: the RTCP channel, or the client RTCP port', () => {
    const sr = Buffer.from([0x80, 200, 0, 6, ...Array(24).fill(1)]);
    const tcp = session();
    tcp.s.setup({ kind: 'tcp', rtpChannel: 2, rtcpChannel: 3 });
    tcp.s.sendRtcp(sr);
    expect(tcp.socket.bytes).toEqual(Buffer.concat([Buffer.from([0x24, 3, 0, sr.length]), sr]));
    const udp = session();
    udp.s.setup(UDP);
    udp.s.sendRtcp(sr);
    expect(udp.udp).toEqual([['rtcp', sr, 5001, '192.0.2.1']]);
    udp.s.teardown('teardown');
    udp.s.sendRtcp(sr);
    expect(udp.udp).toHaveLength(1);
  });

  it('holds the hub back while its socket is over the high-water mark, and reports a stall when it never drains', async () => {
    const { s, hub, socket, log } = session();
    s.setup(TCP);
    s.play();
    socket.writableLength = 5000;
    hub.publish(frame());
    hub.publish(frame(false));
    // The second frame waits for the first to drain.
    const written = socket.writes.length;
    await new Promise((r) => setTimeout(r, 120));
    expect(log).toContain('stalled');
    expect(socket.writes.length).toBeGreaterThan(written);
  });

  it('goes on when the socket drains in time', async () => {
    const { s, hub, socket, log } = session();
    s.setup(TCP);
    s.play();
    socket.writableLength = 5000;
    hub.publish(frame());
    hub.publish(frame(false));
    const written = socket.writes.length;
    socket.writableLength = 0;
    socket.emit('drain');
    await new Promise((r) => setTimeout(r, 80));
    expect(socket.writes.length).toBeGreaterThan(written);
    expect(log).not.toContain('stalled');
  });
});
