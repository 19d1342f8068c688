import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { get, type IncomingMessage } from 'node:http';
import { get as getTls } from 'node:https';
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, createTestHost, relayFrom, testStream, until, type TestCredentials, type TestHost } from '../testing/index.js';

/** Limits low enough to reach in a test; the defaults (HTTP_LIMITS) are far above what clients need. */
const LIMITS = {
  maxConnectionsPerAddress: 5,
  maxUnauthenticatedPerAddress: 3,
  maxUnauthenticated: 8,
  unauthenticatedTimeoutMs: 1500,
  drainTimeoutMs: 2000,
  maxEventStreamsPerUser: 2,
  maxEventStreams: 3,
  maxMjpegClientsPerUser: 1,
  maxMjpegClients: 2,
};

/**
 * A GET from `localAddress` on a connection of its own (`tls`: over HTTPS, the certificate unchecked);
 * resolves at the response head (the body is left to the caller).
 */
function open(port: number, path: string, user: TestCredentials | null, localAddress: string, tls = false): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const o = { host: '127.0.0.1', port, path, localAddress, agent: false, headers: user ? { authorization: basicAuth(user) } : {} };
    const req = tls ? getTls({ ...o, rejectUnauthorized: false }, resolve) : get(o, resolve);
    req.on('error', reject);
  });
}

async function json(res: IncomingMessage): Promise<{ error: string; code: string; message: string }> {
  let text = '';
  for await (const d of res) text += d;
  return JSON.parse(text);
}

/** A raw connection from `localAddress`: what it was sent, and when it closed. */
function raw(port: number, localAddress: string) {
  const socket: Socket = connect({ port, host: '127.0.0.1', localAddress });
  const t0 = Date.now();
  let text = '';
  socket.on('error', () => undefined);
  socket.on('data', (d) => (text += d.toString('latin1')));
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
  const connected = new Promise((r) => socket.once('connect', r));
  return { socket, closed, connected, text: () => text, isClosed: () => socket.destroyed };
}

const request = (path: string, user?: TestCredentials) => `GET ${path} HTTP/1.1\r\nHost: camera\r\n${user ? `Authorization: ${basicAuth(user)}\r\n` : ''}\r\n`;

describe('HTTP on a hostile network: per-address, unauthenticated and per-user limits, backpressure', () => {
  let h: TestHost;
  beforeAll(async () => {
    h = await createTestHost({ media: false, config: { streams: [testStream({ codec: 'mjpeg' })], http: { limits: LIMITS, tls: { port: 0 } } } });
  });
  afterAll(async () => h?.close());

  it('caps event streams and MJPEG clients per user and in total: 429 with the limit and its option', async () => {
    const { viewer, operator, admin } = h.users;
    const held: IncomingMessage[] = [];
    /** 200: the stream is held open; otherwise the JSON refusal, read to its end. */
    const hold = async (path: string, user: TestCredentials) => {
      const res = await open(h.httpPort, path, user, '127.0.0.3');
      if (res.statusCode === 200) {
        held.push(res);
        return { status: 200 };
      }
      return { status: res.statusCode, body: await json(res) };
    };
    try {
      expect((await hold('/api/events', viewer)).status).toBe(200);
      expect((await hold('/api/events', viewer)).status).toBe(200);
      expect(await hold('/api/events', viewer)).toEqual({
        status: 429,
        body: {
          error: 'Too Many Requests',
          code: 'CAMD_ERR_CLIENT_LIMIT',
          message: 'viewer has 2 event streams open, the limit per user is 2 (http.limits.maxEventStreamsPerUser)',
        },
      });
      expect((await hold('/api/events', operator)).status).toBe(200);
      expect(await hold('/api/events', admin)).toMatchObject({
        status: 429,
        body: { message: '3 event streams are open, the limit is 3 (http.limits.maxEventStreams)' },
      });
      // One closes: its slot is free again.
      held.shift()!.destroy();
      await until(async () => (await hold('/api/events', viewer)).status === 200, 10_000, 'a free event stream slot');
      for (const r of held.splice(0)) r.destroy();

      expect((await hold('/api/streams/stream1/mjpeg', viewer)).status).toBe(200);
      expect(await hold('/api/streams/stream1/mjpeg', viewer)).toMatchObject({
        status: 429,
        body: { message: 'viewer has 1 MJPEG clients open, the limit per user is 1 (http.limits.maxMjpegClientsPerUser)' },
      });
      expect((await hold('/api/streams/stream1/mjpeg', operator)).status).toBe(200);
      expect(await hold('/api/streams/stream1/mjpeg', admin)).toMatchObject({ status: 429, body: { code: 'CAMD_ERR_CLIENT_LIMIT' } });
    } finally {
      for (const r of held) r.destroy();
    }
  });

  it('one address holding connections does not lock out another; a refused connection is answered in JSON and closed', async () => {
    // Three silent connections (nothing sent: unauthenticated) fill 127.0.0.1's share.
    const silent = [raw(h.httpPort, '127.0.0.1'), raw(h.httpPort, '127.0.0.1'), raw(h.httpPort, '127.0.0.1')];
    await Promise.all(silent.map((s) => s.connected));
    const refused = await open(h.httpPort, '/api/health', null, '127.0.0.1');
    expect([refused.statusCode, refused.headers['retry-after'], await json(refused)]).toEqual([
      429,
      '5',
      {
        error: 'Too Many Requests',
        code: 'CAMD_ERR_TOO_MANY_CONNECTIONS',
        message: '3 connections from this address have not authenticated yet, the limit is 3 (http.limits.maxUnauthenticatedPerAddress)',
      },
    ]);
    // Another address gets in, anonymous or not.
    expect((await open(h.httpPort, '/api/health', null, '127.0.0.2')).statusCode).toBe(200);
    expect((await open(h.httpPort, '/api/state', h.users.viewer, '127.0.0.2')).statusCode).toBe(200);
    // The silent ones are closed by the 1.5 s deadline, long before Node's own timeouts (10 s and up).
    for (const t of await Promise.all(silent.map((s) => s.closed))) {
      expect(t).toBeGreaterThanOrEqual(1400);
      expect(t).toBeLessThan(8000);
    }

    // Authenticated keep-alive connections count against maxConnectionsPerAddress (5).
    const clients: Array<ReturnType<typeof raw>> = [];
    try {
      for (let i = 0; i < 5; i++) {
        // One after the other: each authenticates before the next comes (at once they would be 5 unauthenticated).
        const c = raw(h.httpPort, '127.0.0.4');
        clients.push(c);
        await c.connected;
        c.socket.write(request('/api/state/streamBitrate', h.users.viewer));
        await until(() => /\r\n\r\n\{.*\}$/s.test(c.text()), 10_000, 'an answer');
      }
      const sixth = await open(h.httpPort, '/api/state/streamBitrate', h.users.viewer, '127.0.0.4');
      expect([sixth.statusCode, (await json(sixth)).message]).toEqual([
        429,
        '5 connections from this address are open, the limit is 5 (http.limits.maxConnectionsPerAddress)',
      ]);
      // Past the deadline for unauthenticated connections, these are still open: they authenticated.
      await new Promise((r) => setTimeout(r, 2500));
      expect(clients.filter((c) => c.isClosed())).toHaveLength(0);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
    expect(h.recentLog()).toMatch(/http: connection refused: 3 connections from this address have not authenticated yet/);
  });

  it('an anonymous keep-alive connection is closed after the deadline, between two answers', async () => {
    const c = raw(h.httpPort, '127.0.0.5');
    await c.connected;
    const ask = setInterval(() => c.isClosed() || c.socket.write(request('/api/health')), 300);
    try {
      const t = await c.closed;
      expect(t).toBeGreaterThanOrEqual(1400);
      expect(t).toBeLessThan(8000);
    } finally {
      clearInterval(ask);
    }
    // Every answer it got is whole: it was closed between two of them.
    const answers = c.text().split(/(?=HTTP\/1\.1 )/);
    expect(answers.length).toBeGreaterThanOrEqual(3);
    for (const a of answers) {
      const [head, body] = a.split('\r\n\r\n') as [string, string];
      expect(Buffer.byteLength(body)).toBe(Number(/content-length: (\d+)/i.exec(head)?.[1]));
    }
  });

  it('a peer pipelining without reading is closed; a few pipelined requests are answered in order', async () => {
    const few = raw(h.httpPort, '127.0.0.6');
    await few.connected;
    few.socket.write([1, 2, 3, 4].map((i) => request(`/api/health?n=${i}`)).join(''));
    await until(() => (few.text().match(/HTTP\/1\.1 200 OK/g) ?? []).length === 4, 10_000, 'four answers');
    few.socket.destroy();

    const flood = raw(h.httpPort, '127.0.0.6');
    await flood.connected;
    flood.socket.pause();
    flood.socket.write(request('/api/health').repeat(2000));
    await flood.closed;
    expect(h.recentLog()).toMatch(/http: closing a connection with more than 16 requests waiting for their answers/);
    expect((await open(h.httpPort, '/api/health', null, '127.0.0.6')).statusCode).toBe(200);
  });

  it('a peer that pipelines and does not read its answers is no longer read (neither the pacer nor Node reads it on)', async () => {
    const serverSide: Socket[] = [];
    const track = (s: Socket) => serverSide.push(s);
    h.host.http.server.on('connection', track);
    const c = raw(h.httpPort, '127.0.0.8');
    try {
      await c.connected;
      c.socket.pause();
      const small = request('/api/state/streamBitrate', h.users.viewer);
      // A small answer (its 'finish' makes the pacer resume the socket), then 8 MiB of answers: more than the kernel holds for this peer.
      const first = small + request('/docs/static/swagger-ui-bundle.js', h.users.viewer).repeat(6);
      c.socket.write(first);
      const s = await until(() => serverSide.find((x) => x.remotePort === c.socket.localPort), 5000, 'the server side');
      await until(() => s.bytesRead >= first.length, 5000, 'the first requests read');
      for (let i = 0; i < 10; i++) {
        c.socket.write(small);
        await new Promise((r) => setTimeout(r, 100));
      }
      // One more request is read (it finds the answers unsent and holds the connection), the other nine wait in the kernel.
      // (Node alone reads all ten: it resumes a connection once the answers queued behind the big one are small.)
      expect(s.bytesRead).toBeLessThanOrEqual(first.length + small.length);
    } finally {
      h.host.http.server.off('connection', track);
      c.socket.destroy();
    }
  });

  it('a peer that does not read a large answer is closed after drainTimeoutMs', async () => {
    const c = raw(h.httpPort, '127.0.0.7');
    await c.connected;
    c.socket.pause();
    // The API docs' script bundle (1.5 MB) six times is more than the kernel holds for a peer that reads nothing.
    c.socket.write(request('/docs/static/swagger-ui-bundle.js', h.users.viewer).repeat(6));
    const t0 = Date.now();
    await until(() => /http: closing a connection whose peer has not read its answers for 2 s/.test(h.recentLog()), 20_000, 'the server to give up on it');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    // Reading now, the peer gets what the kernel held, then the end: not the 9 MB it asked for.
    c.socket.resume();
    await c.closed;
    expect(c.text().length).toBeLessThan(6 * 1_500_000);
  });

  it('HTTPS counts a connection before its handshake, with HTTP: handshakes never finished do not lock out curl from 127.0.0.2, and close at the deadline', async () => {
    const https = h.host.tls.httpsPort;
    // The attack: connections that begin a TLS record (a ClientHello's header) and never finish it.
    const halfOpen = () => {
      const c = raw(https, '127.0.0.1');
      void c.connected.then(() => c.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])));
      return c;
    };
    const first = [halfOpen(), halfOpen(), halfOpen()];
    await Promise.all(first.map((c) => c.connected));
    // They fill 127.0.0.1's share before any handshake: a TLS client from there is refused (in JSON,
    // over TLS), and so is plain HTTP: one guard for both ports.
    const reason = '3 connections from this address have not authenticated yet, the limit is 3 (http.limits.maxUnauthenticatedPerAddress)';
    const overTls = await open(https, '/api/health', null, '127.0.0.1', true);
    expect([overTls.statusCode, (await json(overTls)).message]).toEqual([429, reason]);
    const plain = await open(h.httpPort, '/api/health', null, '127.0.0.1');
    expect([plain.statusCode, (await json(plain)).message]).toEqual([429, reason]);
    // They are closed by the 1.5 s deadline, long before the 10 s handshake timeout.
    for (const t of await Promise.all(first.map((c) => c.closed))) {
      expect(t).toBeGreaterThanOrEqual(1400);
      expect(t).toBeLessThan(8000);
    }
    expect(h.recentLog()).toMatch(/"client":"127\.0\.0\.1"[^\n]*http: closing a connection that did not authenticate within 1\.5 s/);

    // Opened again and again, they do not keep curl out from another address.
    const attack = new Set<ReturnType<typeof raw>>();
    let opened = 0;
    const keep = setInterval(() => {
      opened++;
      const c = halfOpen();
      attack.add(c);
      void c.closed.then(() => attack.delete(c));
    }, 50);
    const relay = await relayFrom('127.0.0.2', https);
    try {
      const url = `https://localhost:${relay.port}/api/state/streamBitrate`;
      const ca = h.host.tls.certificates!.current.certFile;
      const args = [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--cacert',
        ca,
        '--resolve',
        `localhost:${relay.port}:127.0.0.1`,
        '-u',
        'viewer:viewer-secret',
        url,
      ];
      await until(() => opened >= 40, 10_000, 'the attack under way');
      for (let i = 0; i < 3; i++) expect((await promisify(execFile)('curl', args, { timeout: 20_000 })).stdout).toBe('200');
    } finally {
      clearInterval(keep);
      for (const c of attack) c.socket.destroy();
      await relay.close();
    }
  });

  it('HTTPS: a peer that does not read its answers is no longer read, and is closed after drainTimeoutMs', async () => {
    const c = connectTls({ socket: connect({ port: h.host.tls.httpsPort, host: '127.0.0.1', localAddress: '127.0.0.9' }), rejectUnauthorized: false });
    c.on('error', () => undefined);
    let received = 0;
    c.on('data', (d: Buffer) => (received += d.length));
    await once(c, 'secureConnect');
    c.pause();
    c.write(request('/docs/static/swagger-ui-bundle.js', h.users.viewer).repeat(6));
    // The stall is seen on the decrypted connection (the raw one under TLS never holds unsent bytes).
    await until(
      () => /"client":"127\.0\.0\.9"[^\n]*http: closing a connection whose peer has not read its answers for 2 s/.test(h.recentLog()),
      20_000,
      'the server to give up on it',
    );
    c.resume();
    await once(c, 'close');
    expect(received).toBeLessThan(6 * 1_500_000);
  });
});
