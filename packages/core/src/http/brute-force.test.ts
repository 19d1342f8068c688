import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, TEST_USERS, type TestHost } from '../testing/index.js';
import type { CamdConfig } from '../config.js';

const run = promisify(execFile);
/** The attacker's address (every plain `fetch` here) and the legitimate client's (curl --interface). */
const LEGIT = '127.0.0.2';

const hosts: TestHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

async function host(auth: CamdConfig['auth']): Promise<TestHost> {
  const h = await createTestHost({ media: false, config: { auth } });
  hosts.push(h);
  return h;
}

/** curl from 127.0.0.2: status, body and headers (`-u user:pw`, `--digest` in `args`). */
async function curlFrom(url: string, args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await run('curl', ['-s', '-i', '--interface', LEGIT, ...args, url], { timeout: 15_000 });
  const last = stdout.lastIndexOf('\r\n\r\nHTTP/') >= 0 ? stdout.slice(stdout.lastIndexOf('\r\n\r\nHTTP/') + 4) : stdout;
  const [head = '', body = ''] = last.split('\r\n\r\n');
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1]), body, headers: head };
}

const basic = (username: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` });
const guard = (h: TestHost) => h.host.users.guard.stats();

describe('brute-force protection over HTTP', () => {
  it('locks the guessing address out: refused with 429 + Retry-After and nothing checked, while another address logs in as the same user', async () => {
    const h = await host({ maxFailures: 5, backoffAfter: 100 });
    for (let i = 0; i < 5; i++) expect((await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', `guess-${i}`) })).status).toBe(401);
    const checked = guard(h).checks;
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', i === 19 ? 'viewer-secret' : `guess-${i + 5}`) });
      expect(r.status).toBe(429);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(800);
      expect(await r.json()).toMatchObject({ code: 'CAMD_ERR_AUTH_LOCKED', message: expect.stringMatching(/locked out for \d+ s/) });
    }
    // Not even the right password was checked; without credentials the address hears the same.
    expect(guard(h)).toMatchObject({ checks: checked, failures: 5, lockouts: 1, lockedAddresses: 1 });
    expect((await fetch(`${h.baseUrl}/api/stats`)).status).toBe(429);
    // Anonymous routes stay open to it.
    expect((await fetch(`${h.baseUrl}/api/health`)).status).toBe(200);

    // The same user name from another address: Digest (curl) and Basic.
    expect((await curlFrom(`${h.baseUrl}/api/stats`, ['--digest', '-u', 'viewer:viewer-secret'])).status).toBe(200);
    const viewerStats = await curlFrom(`${h.baseUrl}/api/stats`, ['-u', 'viewer:viewer-secret']);
    expect(viewerStats.status).toBe(200);
    const auth = (JSON.parse(viewerStats.body) as { auth: Record<string, unknown> }).auth;
    expect(auth).toMatchObject({ lockedAddresses: 1, usersUnderAttack: 1, lockouts: 1, refused: { locked: 21 } });
    // Which address and which user name: an Admin's to see.
    expect(viewerStats.body).not.toContain('127.0.0.1');
    const adminStats = JSON.parse((await curlFrom(`${h.baseUrl}/api/stats`, ['-u', 'admin:admin-secret'])).body) as { auth: Record<string, unknown> };
    expect(adminStats.auth.lockedOut).toEqual([expect.objectContaining({ address: '127.0.0.1', lastUser: 'viewer', failures: 5 })]);
    expect(adminStats.auth.attackedUsers).toEqual(['viewer']);

    // Logged once, with address and user name, never a password.
    const log = h.recentLog();
    expect(log).toMatch(/"address":"127.0.0.1","user":"viewer".*"msg":"auth: address locked out after failed logins"/);
    expect(log).not.toMatch(/guess-|viewer-secret/);
  });

  it('an Admin lists and lifts a lockout (OpenAPI documents the routes); a viewer may not', async () => {
    const h = await host({ maxFailures: 3, backoffAfter: 100 });
    for (let i = 0; i < 3; i++) await fetch(`${h.baseUrl}/api/stats`, { headers: basic('ghost', `guess-${i}`) });
    expect((await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', 'viewer-secret') })).status).toBe(429);
    const url = `${h.baseUrl}/api/auth/lockouts`;
    const list = await curlFrom(url, ['-u', 'admin:admin-secret']);
    expect(JSON.parse(list.body)).toEqual({ lockouts: [expect.objectContaining({ address: '127.0.0.1', lastUser: 'ghost' })], usersUnderAttack: ['ghost'] });
    expect((await curlFrom(`${url}/127.0.0.1`, ['-X', 'DELETE', '-u', 'viewer:viewer-secret'])).status).toBe(403);
    expect((await curlFrom(`${url}/127.0.0.1`, ['-X', 'DELETE', '-u', 'admin:admin-secret'])).status).toBe(204);
    expect(h.recentLog()).toMatch(/"address":"127.0.0.1".*"msg":"auth: lockout lifted"/);
    expect((await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', 'viewer-secret') })).status).toBe(200);
    const again = await curlFrom(`${url}/127.0.0.1`, ['-X', 'DELETE', '-u', 'admin:admin-secret']);
    expect(again.status).toBe(404);
    expect(JSON.parse(again.body)).toMatchObject({ code: 'CAMD_ERR_AUTH_NO_LOCKOUT' });
    const doc = (await (await fetch(`${h.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/auth/lockouts/{address}']!)).toEqual(['delete']);
    expect(Object.keys(doc.paths['/api/auth/lockouts']!)).toEqual(['get']);
  });

  it('past backoffAfter the next attempt waits: refused at once with 429 CAMD_ERR_AUTH_THROTTLED and the wait', async () => {
    const h = await host({ backoffAfter: 1, backoffInitialMs: 60_000 });
    expect((await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', 'typo') })).status).toBe(401);
    const r = await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', 'viewer-secret') });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('60');
    expect(await r.json()).toMatchObject({ code: 'CAMD_ERR_AUTH_THROTTLED' });
    expect(guard(h).checks).toBe(1);
  });

  it('100 parallel wrong Basic passwords from one address: only backoffAfter of them are hashed, the rest refused at once', async () => {
    const h = await host({ backoffInitialMs: 60_000 });
    const statuses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${h.baseUrl}/api/stats`, { headers: basic(i % 2 ? 'viewer' : `ghost${i}`, `guess-${i}`) }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(97);
    expect(guard(h).hashing.done).toBe(3);
    expect((await curlFrom(`${h.baseUrl}/api/stats`, ['-u', 'viewer:viewer-secret'])).status).toBe(200);
  });

  it('a full hashing queue answers 503 CAMD_ERR_AUTH_BUSY with Retry-After at once, and is no failure', async () => {
    const h = await host({ hashConcurrency: 1, hashQueue: 0 });
    // Hold the one hashing slot, as a long scrypt would.
    let release!: () => void;
    const held = (h.host.users as unknown as { hashes: { run(t: () => Promise<void>): Promise<void> } }).hashes.run(
      () => new Promise<void>((r) => (release = r)),
    );
    const r = await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', 'viewer-secret') });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await r.json()).toMatchObject({ code: 'CAMD_ERR_AUTH_BUSY' });
    release();
    await held;
    expect(guard(h)).toMatchObject({ failures: 0, refused: { busy: 1 }, hashing: { refused: 1 } });
    expect((await fetch(`${h.baseUrl}/api/stats`, { headers: basic('viewer', 'viewer-secret') })).status).toBe(200);
  });
});

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A Digest `Authorization` for `method uri` against a challenge, as a client computes it. */
function digestHeader(challenge: string, method: string, uri: string, opts: { nc?: number; user?: typeof TEST_USERS.admin } = {}): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const u = opts.user ?? TEST_USERS.admin;
  const ha1 = md5(`${u.username}:camd:${u.password}`);
  const ha2 = md5(`${method}:${uri}`);
  if (opts.nc === undefined)
    return `Digest username="${u.username}", realm="camd", nonce="${nonce}", uri="${uri}", response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
  const nc = opts.nc.toString(16).padStart(8, '0');
  const response = md5(`${ha1}:${nonce}:${nc}:0a4f113b:auth:${ha2}`);
  return `Digest username="${u.username}", realm="camd", nonce="${nonce}", uri="${uri}", qop=auth, nc=${nc}, cnonce="0a4f113b", response="${response}"`;
}

describe('HTTP Digest replay', () => {
  it('a captured Authorization header does not work twice, whatever the body; the client hears stale=TRUE', async () => {
    const h = await host({});
    const challenge = (await fetch(`${h.baseUrl}/api/state/streamBitrate`)).headers.get('www-authenticate')!;
    const header = digestHeader(challenge, 'PUT', '/api/state/streamBitrate', { nc: 1 });
    const put = (value: number) =>
      fetch(`${h.baseUrl}/api/state/streamBitrate`, {
        method: 'PUT',
        headers: { authorization: header, 'content-type': 'application/json' },
        body: JSON.stringify({ value }),
      });
    expect((await put(2_000_000)).status).toBe(200);
    const replay = await put(64_000);
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toMatch(/Digest .*stale=TRUE/);
    expect(h.host.state.get('streamBitrate')).toBe(2_000_000);
    // A replay is no password guess: nothing counted against the address.
    expect(guard(h).failures).toBe(0);
  });

  it('without qop a nonce is good once; with qop every new nc is good, and curl --digest keeps working', async () => {
    const h = await host({});
    const challenge = (await fetch(`${h.baseUrl}/api/stats`)).headers.get('www-authenticate')!;
    const noQop = digestHeader(challenge, 'GET', '/api/stats');
    expect((await fetch(`${h.baseUrl}/api/stats`, { headers: { authorization: noQop } })).status).toBe(200);
    expect((await fetch(`${h.baseUrl}/api/stats`, { headers: { authorization: noQop } })).status).toBe(401);
    const fresh = (await fetch(`${h.baseUrl}/api/stats`)).headers.get('www-authenticate')!;
    for (const nc of [1, 2, 3]) {
      expect((await fetch(`${h.baseUrl}/api/stats`, { headers: { authorization: digestHeader(fresh, 'GET', '/api/stats', { nc }) } })).status).toBe(200);
    }
    // curl, given two URLs in one run, is answered for both.
    const urls = [`${h.baseUrl}/api/stats`, `${h.baseUrl}/api/streams`];
    const discard = ['-o', '/dev/null', '-o', '/dev/null'];
    const { stdout } = await run('curl', ['-s', ...discard, '-w', '%{http_code}\n', '--digest', '-u', 'viewer:viewer-secret', ...urls], { timeout: 15_000 });
    expect(stdout.trim().split('\n')).toEqual(['200', '200']);
  });
});
