import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { basicAuth, freePort, relayFrom, until } from '@camd/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegReader, ffprobe, rtspClient, rtspHost, run, type RtspTestHost } from './test-utils.js';

const FLOOD = fileURLToPath(new URL('./fixtures/flood.py', import.meta.url));

/** Limits low enough to reach in a test; the defaults are far above what a client needs (README, Connections). */
const LIMITS = {
  maxConnectionsPerAddress: 6,
  maxUnauthenticatedPerAddress: 3,
  maxUnauthenticated: 8,
  unauthenticatedTimeoutMs: 2000,
  stallMs: 3000,
  playTimeoutMs: 2000,
  maxSessionsPerUser: 3,
};

const OPTIONS = 'OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n';
/** The header of a TLS handshake record (a ClientHello's start): a handshake begun and never finished. */
const TLS_RECORD_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);

/** A connection from `localAddress` that sends `first` and then nothing; what it was answered, and when it closed. */
function idleAfter(port: number, first: string | Buffer, localAddress = '127.0.0.1') {
  const socket: Socket = connect({ port, host: '127.0.0.1', localAddress });
  const t0 = Date.now();
  let text = '';
  socket.on('error', () => undefined);
  socket.on('data', (d) => (text += d.toString('latin1')));
  const connected = once(socket, 'connect').then(() => socket.write(first));
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
  return { socket, connected, closed, answer: () => text };
}
const idleAfterOptions = (port: number, localAddress?: string) => idleAfter(port, OPTIONS, localAddress);

/** OPTIONS over RTSPS from `localAddress` (the certificate unchecked): the answer's head. */
async function optionsOverTls(port: number, localAddress: string): Promise<string> {
  const socket = connectTls({ socket: connect({ port, host: '127.0.0.1', localAddress }), rejectUnauthorized: false });
  let text = '';
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  try {
    await once(socket, 'secureConnect');
    socket.write(OPTIONS);
    return await until(() => (text.includes('\r\n\r\n') ? text : ''), 10_000, 'an answer over RTSPS');
  } finally {
    socket.destroy();
  }
}

async function flood(port: number, args: string[]): Promise<{ sent: number; blocked: boolean; closed_after_ms: number | null }> {
  const { stdout } = await run('/usr/bin/python3', [FLOOD, '--port', String(port), ...args], { timeout: 60_000 });
  return JSON.parse(stdout);
}

describe('plugin-rtsp on a hostile network: backpressure, per-address and per-user limits', () => {
  let h: RtspTestHost;
  let tlsPort: number;
  const viewer = () => basicAuth(h.users.viewer);
  beforeAll(async () => {
    tlsPort = await freePort();
    h = await rtspHost(undefined, { ...LIMITS, tlsPort }, { http: { tls: { port: 0 } } });
    await h.host.hub.waitForParameters('stream1', 20_000);
  });
  afterAll(async () => h?.close());

  it('RTSPS counts a connection before its handshake, with RTSP: handshakes never finished do not lock out ffprobe rtsps:// from 127.0.0.2, and close at the deadline', async () => {
    const halfOpen = () => idleAfter(tlsPort, TLS_RECORD_START);
    const first = [halfOpen(), halfOpen(), halfOpen()];
    await Promise.all(first.map((c) => c.connected));
    // They fill 127.0.0.1's share before any handshake: a TLS client from there is refused with the
    // reason (over TLS), and so is plain RTSP: one guard for both ports.
    const reason =
      /^RTSP\/1.0 503 Service Unavailable\r\nCSeq: 7\r\n.*X-Reason: 3 connections from this address have not authenticated yet, the limit is 3 \(option maxUnauthenticatedPerAddress\)/s;
    expect(await optionsOverTls(tlsPort, '127.0.0.1')).toMatch(reason);
    const plain = idleAfterOptions(h.rtspPort);
    await plain.closed;
    expect(plain.answer()).toMatch(reason);
    // They are closed by the 2 s deadline, long before the 10 s handshake timeout.
    for (const t of await Promise.all(first.map((c) => c.closed))) {
      expect(t).toBeGreaterThanOrEqual(1900);
      expect(t).toBeLessThan(9000);
    }

    // Opened again and again, they do not keep ffprobe out from another address.
    const attack = new Set<ReturnType<typeof idleAfter>>();
    let opened = 0;
    const keep = setInterval(() => {
      opened++;
      const c = halfOpen();
      attack.add(c);
      void c.closed.then(() => attack.delete(c));
    }, 50);
    const relay = await relayFrom('127.0.0.2', tlsPort);
    try {
      await until(() => opened >= 40, 10_000, 'the attack under way');
      const probe = await ffprobe(`rtsps://viewer:${h.users.viewer.password}@127.0.0.1:${relay.port}/stream1`);
      expect(probe.streams?.[0]?.width, probe.error).toBe(320);
    } finally {
      clearInterval(keep);
      for (const c of attack) c.socket.destroy();
      await relay.close();
    }
  });

  it.each([['plain'], ['tunnel']])(
    'a peer that pipelines requests over RTSPS (%s) and reads no answer is no longer read, then closed after stallMs',
    async (mode) => {
      const r = await flood(tlsPort, ['--tls', '--auth', viewer(), '--mode', mode]);
      expect(r.blocked, JSON.stringify(r)).toBe(true);
      expect(r.sent).toBeLessThan(16 << 20);
      // Seen on the decrypted connection: the raw one under TLS never holds unsent bytes.
      expect(r.closed_after_ms, h.recentLog()).not.toBeNull();
    },
  );

  it.each([['plain RTSP'], ['an HTTP tunnel (the POST side floods, the GET side is not read)']])(
    'a peer that pipelines requests and reads no answer over %s is no longer read, then closed after stallMs',
    async (name) => {
      const r = await flood(h.rtspPort, ['--auth', viewer(), '--mode', name.startsWith('plain') ? 'plain' : 'tunnel']);
      // The daemon stopped taking its bytes: what the kernel took is what its buffers hold, far below
      // the 16 MiB the peer would have pushed into a daemon that kept reading.
      expect(r.blocked, JSON.stringify(r)).toBe(true);
      expect(r.sent).toBeLessThan(16 << 20);
      expect(r.closed_after_ms, h.recentLog()).not.toBeNull();
      expect(h.recentLog()).toMatch(/rtsp: closing a connection whose peer has not read its answers for 3 s/);
    },
  );

  it('an anonymous flood of pipelined OPTIONS is answered 32 times, then refused with its reason and closed', async () => {
    const c = idleAfterOptions(h.rtspPort);
    await new Promise((r) => c.socket.once('connect', r));
    c.socket.write('OPTIONS * RTSP/1.0\r\nCSeq: 8\r\n\r\n'.repeat(200));
    await c.closed;
    expect(c.answer().match(/RTSP\/1.0 200 OK/g)).toHaveLength(32);
    expect(c.answer()).toMatch(
      /RTSP\/1.0 503 Service Unavailable\r\nCSeq: 8\r\nServer: camd\r\nConnection: close\r\nX-Reason: 32 requests without authenticating/,
    );
  });

  it('one address holding unauthenticated connections does not lock out another: ffmpeg from 127.0.0.2 plays; idle ones close after 2 s', async () => {
    // The attack: connections that each send OPTIONS and sit idle, opened again and again.
    const attack = new Set<ReturnType<typeof idleAfterOptions>>();
    const first = Array.from({ length: 10 }, () => idleAfterOptions(h.rtspPort));
    const keep = setInterval(() => {
      const c = idleAfterOptions(h.rtspPort);
      attack.add(c);
      void c.closed.then(() => attack.delete(c));
    }, 50);
    const relay = await relayFrom('127.0.0.2', h.rtspPort);
    const reader = ffmpegReader(`rtsp://viewer:${h.users.viewer.password}@127.0.0.1:${relay.port}/stream1`);
    try {
      const times = await Promise.all(first.map((c) => c.closed));
      const admitted = first.filter((c) => /^RTSP\/1.0 200 OK/.test(c.answer()));
      const refused = first.filter((c) => /^RTSP\/1.0 503/.test(c.answer()));
      // Three admitted (maxUnauthenticatedPerAddress), each closed by the deadline, not by the 60 s idle timeout.
      expect(admitted).toHaveLength(3);
      for (const c of admitted) expect(times[first.indexOf(c)]).toBeGreaterThanOrEqual(1900);
      for (const c of admitted) expect(times[first.indexOf(c)]).toBeLessThan(15_000);
      // The others are told why (a few at a time; past those they are closed without an answer).
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]!.answer()).toMatch(
        /^RTSP\/1.0 503 Service Unavailable\r\nCSeq: 7\r\n.*X-Reason: 3 connections from this address have not authenticated yet, the limit is 3 \(option maxUnauthenticatedPerAddress\)/s,
      );
      // Meanwhile the reader from the other address gets in and keeps getting frames (15 fps).
      await until(() => reader.frames() >= 30, 30_000, 'frames at the reader from 127.0.0.2');
      const at = reader.frames();
      await until(() => reader.frames() >= at + 30, 30_000, 'more frames while the attack goes on');
      expect((await ffprobe(`rtsp://viewer:${h.users.viewer.password}@127.0.0.1:${relay.port}/stream1`)).streams?.[0]?.width).toBe(320);
      expect(h.recentLog()).toMatch(/rtsp: connection refused: 3 connections from this address have not authenticated yet/);
    } finally {
      clearInterval(keep);
      for (const c of [...first, ...attack]) c.socket.destroy();
      await reader.stop();
      await relay.close();
    }
  });

  it('sessions SETUP and never PLAYed expire and free their slots; a user past maxSessionsPerUser is answered 503 with why', async () => {
    const url = `rtsp://127.0.0.1:${h.rtspPort}/stream1`;
    const TCP = (n: number) => ({ Transport: `RTP/AVP/TCP;unicast;interleaved=${2 * n}-${2 * n + 1}`, Authorization: viewer() });
    const c = await rtspClient(h.rtspPort);
    // One that plays does not expire.
    const played = await c.ask('SETUP', `${url}/trackID=0`, TCP(0));
    expect(played.status).toBe(200);
    const playedId = played.headers.session!.split(';')[0]!;
    expect((await c.ask('PLAY', url, { Session: playedId, Authorization: viewer() })).status).toBe(200);
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const r = await c.ask('SETUP', `${url}/trackID=0`, TCP(n));
      expect(r.status).toBe(200);
      ids.push(r.headers.session!.split(';')[0]!);
    }
    const over = await c.ask('SETUP', `${url}/trackID=0`, TCP(3));
    expect(over.status).toBe(503);
    expect(over.headers['x-reason']).toBe('viewer has 3 RTSP sessions open, the limit per user is 3 (option maxSessionsPerUser)');
    // Another user is not held back by the viewer's sessions.
    const other = await rtspClient(h.rtspPort);
    const op = await other.ask('SETUP', `${url}/trackID=0`, { ...TCP(0), Authorization: basicAuth(h.users.operator) });
    expect(op.status).toBe(200);
    other.socket.destroy();
    // Keep-alives do not keep an unplayed session: after playTimeoutMs (2 s) it is gone and its slot free.
    await until(
      async () => (await c.ask('GET_PARAMETER', url, { Session: ids[0]!, Authorization: viewer() })).status === 454,
      15_000,
      'the unplayed session to expire',
    );
    expect((await c.ask('PLAY', url, { Session: ids[1]!, Authorization: viewer() })).status).toBe(454);
    expect((await c.ask('SETUP', `${url}/trackID=0`, TCP(4))).status).toBe(200);
    expect((await c.ask('GET_PARAMETER', url, { Session: playedId, Authorization: viewer() })).status).toBe(200);
    expect(h.recentLog()).toMatch(/rtsp: ending a session not played within 2 s of its SETUP/);
    c.socket.destroy();
  });
});
