import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relayFrom, testStream } from '@camd/core/testing';
import { ffprobe, rtspHost, type RtspTestHost } from './test-utils.js';
import { digestUriMatches } from './rtsp-auth.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

interface Answer {
  status: number;
  headers: Record<string, string>;
}

/** One RTSP connection from `localAddress`, requests in turn (as a hand-written client or a replaying attacker would). */
class RawRtsp {
  private buf = '';
  private waiter?: () => void;
  private cseq = 0;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<RawRtsp> {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    await new Promise((r) => s.once('connect', r));
    return new RawRtsp(s);
  }

  async request(method: string, url: string, headers: Record<string, string> = {}): Promise<Answer> {
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    this.socket.write(`${method} ${url} RTSP/1.0\r\nCSeq: ${++this.cseq}\r\n${extra.join('')}\r\n`);
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.slice(0, end).split('\r\n');
        const h: Record<string, string> = {};
        for (const line of head.slice(1)) {
          const i = line.indexOf(':');
          const k = line.slice(0, i).toLowerCase();
          h[k] = h[k] ? `${h[k]}\n${line.slice(i + 1).trim()}` : line.slice(i + 1).trim();
        }
        const length = Number(h['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + length) {
          this.buf = this.buf.slice(end + 4 + length);
          return { status: Number(head[0]!.split(' ')[1]), headers: h };
        }
      }
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The Digest header an RTSP client (no qop) computes for `method url` from a challenge. */
function digest(challenge: string, method: string, uri: string, password = 'viewer-secret'): string {
  const nonce = /Digest [^\n]*nonce="([^"]+)"/.exec(challenge)![1]!;
  const response = md5(`${md5(`viewer:camd:${password}`)}:${nonce}:${md5(`${method}:${uri}`)}`);
  return `Digest username="viewer", realm="camd", nonce="${nonce}", uri="${uri}", response="${response}"`;
}

describe('RTSP Digest replay', () => {
  let h: RtspTestHost;
  const conns: RawRtsp[] = [];
  beforeAll(async () => {
    h = await rtspHost([testStream({ path: '/stream1' }), testStream({ path: '/stream2', source: 'videotestsrc:ball' })]);
    await h.host.hub.waitForParameters('stream1', 15_000);
    await h.host.hub.waitForParameters('stream2', 15_000);
  });
  afterEach(() => {
    for (const c of conns.splice(0)) c.close();
  });
  afterAll(async () => h?.close());
  const open = async () => {
    const c = await RawRtsp.open(h.rtspPort);
    conns.push(c);
    return c;
  };
  const url = (path: string) => `rtsp://127.0.0.1:${h.rtspPort}${path}`;

  it("a header computed for /stream1 does not open /stream2: the Digest uri must name the request's stream", async () => {
    const c = await open();
    const challenge = (await c.request('DESCRIBE', url('/stream1'))).headers['www-authenticate']!;
    const header = digest(challenge, 'DESCRIBE', url('/stream1'));
    expect((await c.request('DESCRIBE', url('/stream2'), { Authorization: header })).status).toBe(401);
    expect((await c.request('DESCRIBE', url('/stream1'), { Authorization: header })).status).toBe(200);
    // The same path written another way (a trailing slash, another host spelling) is the same stream.
    expect((await c.request('DESCRIBE', `rtsp://localhost:${h.rtspPort}/stream1/`, { Authorization: header })).status).toBe(200);
  });

  it('a header captured on one connection does not work on another: stale=TRUE (a client may retry without asking its user)', async () => {
    const failures = h.host.users.guard.stats().failures;
    const a = await open();
    const challenge = (await a.request('DESCRIBE', url('/stream1'))).headers['www-authenticate']!;
    const header = digest(challenge, 'DESCRIBE', url('/stream1'));
    expect((await a.request('DESCRIBE', url('/stream1'), { Authorization: header })).status).toBe(200);
    const b = await open();
    const replay = await b.request('DESCRIBE', url('/stream1'), { Authorization: header });
    expect(replay.status).toBe(401);
    expect(replay.headers['www-authenticate']).toMatch(/stale=TRUE/);
    // On its own connection the header keeps working (RTSP clients send one nonce with every request).
    expect((await a.request('DESCRIBE', url('/stream1'), { Authorization: header })).status).toBe(200);
    // A replay is no password guess: nothing counted against the address.
    expect(h.host.users.guard.stats().failures).toBe(failures);
  });

  it('digestUriMatches: the path decides, a trailing slash and the host aside', () => {
    expect(digestUriMatches('rtsp://10.0.0.5:554/stream1', 'rtsp://camera:554/stream1/')).toBe(true);
    expect(digestUriMatches('/stream1', 'rtsp://camera/stream1')).toBe(true);
    expect(digestUriMatches('rtsp://camera/stream1', 'rtsp://camera/stream2')).toBe(false);
    expect(digestUriMatches('rtsp://camera/stream1', 'rtsp://camera/stream1/trackID=0')).toBe(false);
    expect(digestUriMatches('rtsp://camera/stream1', '*')).toBe(false);
  });
});

describe('RTSP brute-force protection', () => {
  let h: RtspTestHost;
  beforeAll(async () => {
    h = await rtspHost([testStream()], {}, { auth: { maxFailures: 3, backoffAfter: 100 } });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => h?.close());

  it('ffprobe with a wrong, then the right password; an address that keeps guessing gets 503 + Retry-After, unchecked, while ffprobe from another address plays', async () => {
    const guard = h.host.users.guard;
    expect((await ffprobe(h.url('/stream1', { username: 'viewer', password: 'wrong' }))).error).toMatch(/401/);
    expect(guard.stats().failures).toBe(1);
    expect((await ffprobe(h.url('/stream1'))).streams?.[0]).toMatchObject({ codec_name: 'h264' });

    // Two more wrong Basic passwords lock 127.0.0.1 out.
    const c = await RawRtsp.open(h.rtspPort);
    for (const pw of ['guess-1', 'guess-2']) {
      const basic = `Basic ${Buffer.from(`viewer:${pw}`).toString('base64')}`;
      expect((await c.request('DESCRIBE', `rtsp://127.0.0.1:${h.rtspPort}/stream1`, { Authorization: basic })).status).toBe(401);
    }
    const locked = await c.request('DESCRIBE', `rtsp://127.0.0.1:${h.rtspPort}/stream1`, {
      Authorization: `Basic ${Buffer.from('viewer:viewer-secret').toString('base64')}`,
    });
    expect(locked.status).toBe(503);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    c.close();
    const checks = guard.stats().checks;
    // ffprobe from the locked address, with the right password: refused, not checked.
    expect((await ffprobe(h.url('/stream1'))).error).toMatch(/503/);
    expect(guard.stats().checks).toBe(checks);
    // ffprobe from 127.0.0.2 (through a byte relay: ffprobe cannot pick its source address), same user.
    const relay = await relayFrom('127.0.0.2', h.rtspPort);
    try {
      const probe = await ffprobe(`rtsp://viewer:viewer-secret@127.0.0.1:${relay.port}/stream1`);
      expect(probe.streams?.[0], probe.error).toMatchObject({ codec_name: 'h264', width: 320, height: 240 });
    } finally {
      await relay.close();
    }
    expect(guard.lockouts()).toEqual([expect.objectContaining({ address: '127.0.0.1', lastUser: 'viewer' })]);
    expect(h.recentLog()).not.toMatch(/guess-|viewer-secret/);
  });
});
