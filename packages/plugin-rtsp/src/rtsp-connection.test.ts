import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, LogThrottle, StreamHub, type Caller, type StreamSettings } from '@camd/core';
import { RtspConnection, type ConnParent } from './rtsp-connection.js';
import { RtspSession } from './rtsp-session.js';

const caller = { username: 'viewer', permissions: ['Media_r'] } as unknown as Caller;
const settings = (name: string) => ({ name, path: `/${name}`, codec: 'h264', fps: 15, bitrate: 500_000, width: 320, height: 240 }) as unknown as StreamSettings;

/** A parent that is not an RtspServer: what a connection needs, and a record of what it asked for. */
function fakeParent(over: Partial<ConnParent> = {}) {
  const hub = new StreamHub();
  const sessions = new Map<string, RtspSession>();
  const rtcp: Array<{ session: string; data: Buffer }> = [];
  const closed: string[] = [];
  const parent: ConnParent = {
    log: createLogger({ level: 'silent' }),
    logThrottle: new LogThrottle(),
    idleTimeoutMs: 60_000,
    headTimeoutMs: 10_000,
    authenticate: async () => ({ ok: true, caller }),
    resolve(url) {
      const m = /^rtsp:\/\/[^/]+\/(stream\d)(?:\/(.*))?$/.exec(url);
      return m ? { settings: settings(m[1]!), base: `rtsp://h/${m[1]}`, track: m[2] } : undefined;
    },
    parameters: async () => ({ codec: 'h264', width: 320, height: 240, fps: 0 }),
    createSession(stream, who, conn, negotiated) {
      const s = new RtspSession({
        negotiated,
        stream,
        caller: who,
        ownerId: conn.id,
        remoteAddress: conn.remoteAddress,
        hub,
        packets: { ssrc: 0xcafe, packetsOf: () => [] },
        limits: { maxQueue: 10, highWater: 1 << 20, stallMs: 1000 },
        timeoutMs: 30_000,
        sink: { socket: conn.socket, sendUdp: () => undefined, sendUdpRtcp: () => undefined },
        events: {
          started: () => undefined,
          closed: (x, reason) => void (sessions.delete(x.id), closed.push(reason)),
          stalled: () => undefined,
          rejected: () => undefined,
        },
      });
      sessions.set(s.id, s);
      return s;
    },
    findSession: (id) => sessions.get(id),
    udpPorts: () => ({ rtp: 40000, rtcp: 40001 }),
    onRtcp: (s, data) => void rtcp.push({ session: s.id, data }),
    ...over,
  };
  return { parent, sessions, rtcp, closed };
}

interface Client {
  ask(method: string, url: string, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string> }>;
  send(b: Buffer): void;
  closed: Promise<void>;
  socket: Socket;
}

let server: Server | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A connection of `parent` on a loopback socket, and a client that sends requests and reads answers. */
async function open(parent: ConnParent): Promise<Client> {
  server = createServer((socket) => new RtspConnection(socket, parent));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  clients.push(socket);
  await new Promise((r) => socket.once('connect', r));
  let buf = '';
  let cseq = 0;
  let waiting: (() => void) | undefined;
  socket.on('data', (d) => {
    buf += d.toString('latin1');
    waiting?.();
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return {
    socket,
    closed,
    send: (b) => socket.write(b),
    async ask(method, url, headers = {}) {
      buf = '';
      const lines = [`${method} ${url} RTSP/1.0`, `CSeq: ${++cseq}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      while (!buf.includes('\r\n\r\n')) await new Promise<void>((r) => (waiting = r));
      const [first, ...rest] = buf.slice(0, buf.indexOf('\r\n\r\n')).split('\r\n');
      const h = Object.fromEntries(rest.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      expect(h.cseq).toBe(String(cseq));
      return { status: Number(first!.split(' ')[1]), headers: h };
    },
  };
}

const URL1 = 'rtsp://127.0.0.1/stream1';
const TCP = { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' };
const sessionId = (r: { headers: Record<string, string> }) => r.headers.session!.split(';')[0]!;

describe('RtspConnection over a ConnParent', () => {
  it('sets up, plays, pauses and tears down a session, with the Transport and Session headers of RFC 2326 §12', async () => {
    const { parent, sessions, closed } = fakeParent();
    const c = await open(parent);
    const setup = await c.ask('SETUP', `${URL1}/trackID=0`, TCP);
    expect(setup.status).toBe(200);
    expect(setup.headers.transport).toBe('RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0000cafe');
    expect(setup.headers.session).toMatch(/^[0-9a-f]{16};timeout=30$/);
    const id = sessionId(setup);
    expect(sessions.get(id)?.state).toBe('ready');
    expect(await c.ask('PLAY', URL1, { Session: id })).toMatchObject({ status: 200, headers: { range: 'npt=now-' } });
    expect(sessions.get(id)?.state).toBe('playing');
    expect((await c.ask('PAUSE', URL1, { Session: id })).status).toBe(200);
    expect(sessions.get(id)?.state).toBe('ready');
    expect((await c.ask('TEARDOWN', URL1, { Session: id })).status).toBe(200);
    expect(sessions.has(id)).toBe(false);
    expect(closed).toEqual(['teardown']);
  });

  it('answers UDP SETUP with the client and server ports', async () => {
    const c = await open(fakeParent().parent);
    const r = await c.ask('SETUP', `${URL1}/trackID=0`, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' });
    expect(r.headers.transport).toBe('RTP/AVP;unicast;client_port=5000-5001;server_port=40000-40001;ssrc=0000cafe');
  });

  it('refuses UDP when the server has no UDP ports, without leaving a session behind', async () => {
    const { parent, sessions } = fakeParent({ udpPorts: () => undefined });
    const c = await open(parent);
    expect((await c.ask('SETUP', `${URL1}/trackID=0`, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' })).status).toBe(461);
    expect(sessions.size).toBe(0);
  });

  it('answers state errors: PLAY without or with an unknown session (454), a second SETUP (455), another stream in the session (459)', async () => {
    const c = await open(fakeParent().parent);
    expect((await c.ask('PLAY', URL1)).status).toBe(454);
    expect((await c.ask('PLAY', URL1, { Session: 'feedfeedfeedfeed' })).status).toBe(454);
    const id = sessionId(await c.ask('SETUP', `${URL1}/trackID=0`, TCP));
    expect(await c.ask('SETUP', `${URL1}/trackID=0`, { ...TCP, Session: id })).toMatchObject({
      status: 455,
      headers: { allow: 'PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER' },
    });
    expect((await c.ask('SETUP', 'rtsp://127.0.0.1/stream2/trackID=0', { ...TCP, Session: id })).status).toBe(459);
    expect((await c.ask('SETUP', `${URL1}/trackID=1`, TCP)).status).toBe(404);
    expect((await c.ask('SETUP', `${URL1}/trackID=0`, { Transport: 'RTP/AVP;multicast' })).status).toBe(461);
  });

  it('sets up and tears down sessions again and again on one connection (torn-down sessions do not count against its 8)', async () => {
    const c = await open(fakeParent().parent);
    for (let i = 0; i < 12; i++) {
      const setup = await c.ask('SETUP', `${URL1}/trackID=0`, TCP);
      expect(setup.status, `SETUP #${i + 1}`).toBe(200);
      expect((await c.ask('TEARDOWN', URL1, { Session: sessionId(setup) })).status).toBe(200);
    }
    // Live sessions do count: 8 at once, then 503.
    for (let i = 0; i < 8; i++) expect((await c.ask('SETUP', `${URL1}/trackID=0`, TCP)).status).toBe(200);
    expect((await c.ask('SETUP', `${URL1}/trackID=0`, TCP)).status).toBe(503);
  });

  it('takes at most MAX_PIPELINED requests before it answers them: the rest wait in the peer, unread', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { parent } = fakeParent({
      authenticate: async () => {
        calls++;
        await gate;
        return { ok: true, caller };
      },
    });
    let conn!: RtspConnection;
    server = createServer((socket) => void (conn = new RtspConnection(socket, parent)));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    clients.push(socket);
    let answers = '';
    socket.on('data', (d) => (answers += d.toString('latin1')));
    const requests = Array.from({ length: 20 }, (_, i) => `GET_PARAMETER ${URL1} RTSP/1.0\r\nCSeq: ${i + 1}\r\n\r\n`).join('');
    socket.write(requests);
    await expect.poll(() => calls).toBe(1);
    // The first waits on its check; three more are read; the other sixteen stay in the parser, and the socket is paused.
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    expect(conn.socket.isPaused()).toBe(true);
    release();
    await expect.poll(() => answers.match(/RTSP\/1.0 200 OK/g)?.length ?? 0).toBe(20);
    expect([...answers.matchAll(/CSeq: (\d+)/g)].map((m) => Number(m[1]))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(conn.socket.isPaused()).toBe(false);
  });

  it('answers 503 when the server holds as many sessions as it may', async () => {
    const c = await open(fakeParent({ createSession: () => ({ refused: 'the server holds as many sessions as it may' }) }).parent);
    expect((await c.ask('SETUP', `${URL1}/trackID=0`, TCP)).status).toBe(503);
  });

  it('hands interleaved RTCP on a session RTCP channel to the server, and nothing else', async () => {
    const { parent, rtcp } = fakeParent();
    const c = await open(parent);
    const id = sessionId(await c.ask('SETUP', `${URL1}/trackID=0`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=2-3' }));
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]);
    c.send(Buffer.concat([Buffer.from([0x24, 3, 0, rr.length]), rr, Buffer.from([0x24, 7, 0, 2, 1, 2])]));
    expect((await c.ask('GET_PARAMETER', URL1, { Session: id })).status).toBe(200);
    expect(rtcp).toEqual([{ session: id, data: rr }]);
  });

  it('closes its TCP sessions when it closes, and leaves playing UDP sessions to time out', async () => {
    const { parent, sessions, closed } = fakeParent();
    const c = await open(parent);
    const tcp = sessionId(await c.ask('SETUP', `${URL1}/trackID=0`, TCP));
    const udp = sessionId(await c.ask('SETUP', `${URL1}/trackID=0`, { Transport: 'RTP/AVP;unicast;client_port=5000-5001' }));
    await c.ask('PLAY', URL1, { Session: udp });
    c.socket.destroy();
    await expect.poll(() => closed).toEqual(['connection closed']);
    expect(sessions.has(tcp)).toBe(false);
    expect(sessions.get(udp)?.state).toBe('playing');
  });

  it('closes an idle connection once it has no live session, however long a session kept it open', { timeout: 10_000 }, async () => {
    const { parent, sessions } = fakeParent({ idleTimeoutMs: 200 });
    const c = await open(parent);
    const id = sessionId(await c.ask('SETUP', `${URL1}/trackID=0`, TCP));
    await new Promise((r) => setTimeout(r, 500));
    expect(c.socket.destroyed).toBe(false); // a live session keeps it open, over several idle periods
    // Ended by the server (a timeout, say), with no word on this connection: closed all the same.
    sessions.get(id)!.teardown('timeout');
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
