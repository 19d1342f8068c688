import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { digestVerdict, MAX_TRACKED_NONCES, NonceManager } from './http-digest.js';
import { digestHA1, UserStore } from './users.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** The parameters a client sends for `method uri` (with qop=auth and `nc` when given). */
function respond(nonce: string, method: string, uri: string, nc?: number, password = 'viewer-secret'): Record<string, string> {
  const ha1 = digestHA1('viewer', password);
  const ha2 = md5(`${method}:${uri}`);
  if (nc === undefined) return { username: 'viewer', realm: 'camd', nonce, uri, response: md5(`${ha1}:${nonce}:${ha2}`) };
  const n = nc.toString(16).padStart(8, '0');
  return { username: 'viewer', realm: 'camd', nonce, uri, qop: 'auth', nc: n, cnonce: 'abc', response: md5(`${ha1}:${nonce}:${n}:abc:auth:${ha2}`) };
}

describe('Digest replay', () => {
  let users: UserStore;
  beforeAll(async () => {
    users = await UserStore.open({ configUsers: [{ username: 'viewer', password: 'viewer-secret', permissions: ['Media_r'] }] });
  });
  const http = (uri: string) => ({ method: 'GET', uriMatches: (u: string) => u === uri });

  it('each nc of a nonce is good once; a late nc within the window still is', () => {
    const nonces = new NonceManager();
    const n = nonces.issue();
    const one = respond(n, 'GET', '/api/stats', 1);
    expect(digestVerdict(users, nonces, one, http('/api/stats'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, one, http('/api/stats'))).toBe('stale');
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/stats', 3), http('/api/stats'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/stats', 2), http('/api/stats'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/stats', 2), http('/api/stats'))).toBe('stale');
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/stats', 100), http('/api/stats'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/stats', 50), http('/api/stats'))).toBe('stale');
    // A wrong password is wrong, never stale; a response for another URI is wrong.
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/stats', 101, 'guess'), http('/api/stats'))).toBeUndefined();
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/api/streams', 102), http('/api/stats'))).toBeUndefined();
  });

  it('without qop, an unscoped nonce is good once; a scoped one on its scope only', () => {
    const nonces = new NonceManager();
    const n = nonces.issue();
    const p = respond(n, 'GET', '/api/stats');
    expect(digestVerdict(users, nonces, p, http('/api/stats'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, p, http('/api/stats'))).toBe('stale');

    const rtsp = (scope: string) => ({ method: 'DESCRIBE', uriMatches: () => true, scope });
    const c = nonces.issue('conn-1');
    const d = respond(c, 'DESCRIBE', 'rtsp://h/stream1');
    expect(digestVerdict(users, nonces, d, rtsp('conn-1'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, d, rtsp('conn-1'))).toMatchObject({ username: 'viewer' });
    expect(digestVerdict(users, nonces, d, rtsp('conn-2'))).toBe('stale');
    expect(digestVerdict(users, nonces, respond(c, 'DESCRIBE', 'rtsp://h/stream1', undefined, 'guess'), rtsp('conn-2'))).toBeUndefined();
  });

  it('an expired nonce is stale when the response is right, wrong when it is not', () => {
    const nonces = new NonceManager(1000);
    const n = nonces.issue(undefined, Date.now() - 2000);
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/x', 1), http('/x'))).toBe('stale');
    expect(digestVerdict(users, nonces, respond(n, 'GET', '/x', 1, 'guess'), http('/x'))).toBeUndefined();
    expect(digestVerdict(users, nonces, respond(`${n}x`, 'GET', '/x', 1), http('/x'))).toBeUndefined();
  });

  it('remembers a bounded number of nonces; one it forgot is stale from then on, never good again', () => {
    const nonces = new NonceManager();
    const t0 = Date.now();
    const first = nonces.issue(undefined, t0 - 1000);
    expect(nonces.use(first, '00000001', false, t0)).toBe(true);
    for (let i = 0; i < MAX_TRACKED_NONCES; i++) expect(nonces.use(nonces.issue(undefined, t0), '00000001', false, t0)).toBe(true);
    expect((nonces as unknown as { used: Map<string, unknown> }).used.size).toBe(MAX_TRACKED_NONCES);
    expect(nonces.check(first, undefined, t0)).toBe('stale');
    expect(nonces.check(nonces.issue(undefined, t0 + 1), undefined, t0 + 1)).toBe('ok');
  });
});
