import { execFile } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, until, type TestHost } from '../testing/index.js';

const run = promisify(execFile);

/** curl's exit code, status and body (`-w` appends the status on a line of its own). */
async function curl(args: string[]): Promise<{ code: number; status?: number; body: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], { timeout: 20_000 });
    const i = stdout.lastIndexOf('\n');
    return { code: 0, status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i), stderr };
  } catch (err) {
    const e = err as { code: number; stdout?: string; stderr?: string };
    return { code: e.code, body: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('HTTPS with the generated certificate (curl)', () => {
  let h: TestHost;
  let https: string;
  let ca: string;
  beforeAll(async () => {
    h = await createTestHost({ media: false, config: { http: { tls: { port: 0 } } } });
    https = `https://localhost:${h.host.tls.httpsPort}`;
    ca = h.host.tls.certificates!.current.certFile;
  });
  afterAll(async () => h?.close());

  it('serves the API over HTTPS: curl --cacert trusts the certificate, and its pinned public key matches', async () => {
    const health = await curl(['--cacert', ca, `${https}/api/health`]);
    expect(health).toMatchObject({ code: 0, status: 200 });
    expect(JSON.parse(health.body).healthy).toBe(true);
    const pin = `sha256//${h.host.tls.certificates!.current.spkiPin}`;
    const state = await curl(['--cacert', ca, '--pinnedpubkey', pin, '-u', 'viewer:viewer-secret', `${https}/api/state/streamBitrate`]);
    expect(state).toMatchObject({ code: 0, status: 200 });
    // Another pin: curl refuses the connection (exit 90, CURLE_SSL_PINNEDPUBKEYNOTMATCH).
    expect((await curl(['--cacert', ca, '--pinnedpubkey', 'sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', `${https}/api/health`])).code).toBe(90);
    // Without the CA, curl does not trust it (exit 60).
    expect((await curl([`${https}/api/health`])).code).toBe(60);
  });

  it('plain HTTP stays on beside it by default, Basic included', async () => {
    expect((await h.fetch('/api/state/streamBitrate')).status).toBe(200);
  });

  it('a connection that never completes its handshake is closed', async () => {
    const s = connect(h.host.tls.httpsPort, '127.0.0.1');
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    await until(() => closed, 20_000, 'the silent connection to be closed');
  });
});

describe('http.plain and auth.basicOverPlainHttp', () => {
  it('"redirect": plain HTTP answers 308 to the same path on HTTPS, which curl follows', async () => {
    const h = await createTestHost({ media: false, config: { http: { tls: { port: 0 }, plain: 'redirect' } } });
    try {
      const r = await fetch(`${h.baseUrl}/api/state/streamBitrate?x=1`, { redirect: 'manual' });
      expect(r.status).toBe(308);
      expect(r.headers.get('location')).toBe(`https://127.0.0.1:${h.host.tls.httpsPort}/api/state/streamBitrate?x=1`);
      const ca = h.host.tls.certificates!.current.certFile;
      const followed = await curl([
        '--cacert',
        ca,
        '-L',
        '--location-trusted',
        '-u',
        'viewer:viewer-secret',
        `http://localhost:${h.httpPort}/api/state/streamBitrate`,
      ]);
      expect(followed).toMatchObject({ code: 0, status: 200 });
    } finally {
      await h.close();
    }
  });

  it('an HTTPS port in use stops the start with an error naming http.tls.port', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      await expect(createTestHost({ media: false, config: { http: { tls: { port } } } })).rejects.toThrow(
        `http.tls.port: HTTPS cannot listen on 127.0.0.1:${port}: listen EADDRINUSE`,
      );
    } finally {
      holder.close();
    }
  });

  it('"off": only HTTPS listens', async () => {
    const h = await createTestHost({ media: false, config: { http: { tls: { port: 0 }, plain: 'off' } } });
    try {
      expect(h.host.httpPort).toBe(0);
      const ca = h.host.tls.certificates!.current.certFile;
      expect(await curl(['--cacert', ca, `https://localhost:${h.host.tls.httpsPort}/api/health`])).toMatchObject({ code: 0, status: 200 });
    } finally {
      await h.close();
    }
  });

  it('basicOverPlainHttp false: Basic on plain HTTP gets a 401 that says to use HTTPS or Digest; Digest there, and Basic over HTTPS, work', async () => {
    const h = await createTestHost({ media: false, config: { http: { tls: { port: 0 } }, auth: { basicOverPlainHttp: false } } });
    try {
      const tls = h.host.tls.httpsPort;
      const r = await h.fetch('/api/state/streamBitrate');
      expect(r.status).toBe(401);
      expect(await r.json()).toMatchObject({
        code: 'CAMD_ERR_BASIC_OVER_PLAIN_HTTP',
        message: `HTTP Basic is refused over plain HTTP: use HTTPS (port ${tls}) or HTTP Digest`,
      });
      expect(r.headers.get('www-authenticate')).toMatch(/^Digest /);
      // Without credentials, the challenge offers Digest only (browsers would otherwise prompt for Basic).
      const anonymous = await h.fetch('/api/state/streamBitrate', { user: null });
      expect(anonymous.headers.get('www-authenticate')).not.toMatch(/Basic/);
      expect(await curl(['--digest', '-u', 'viewer:viewer-secret', `${h.baseUrl}/api/state/streamBitrate`])).toMatchObject({ code: 0, status: 200 });
      const ca = h.host.tls.certificates!.current.certFile;
      expect(await curl(['--cacert', ca, '-u', 'viewer:viewer-secret', `https://localhost:${tls}/api/state/streamBitrate`])).toMatchObject({
        code: 0,
        status: 200,
      });
    } finally {
      await h.close();
    }
  });
});
