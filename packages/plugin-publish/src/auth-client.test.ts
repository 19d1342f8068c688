import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAuthorization, verifyDigest } from '@camd/core';
import { ClientAuth, parseChallenges } from './auth-client.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('parseChallenges', () => {
  it('reads several challenges, from one header or many', () => {
    const c = parseChallenges(['Digest realm="cam, 1", nonce="abc\\"d", algorithm=MD5, qop="auth,auth-int", Basic realm="cam"', 'Bearer x=1']);
    expect(c).toEqual([
      { scheme: 'digest', params: { realm: 'cam, 1', nonce: 'abc"d', algorithm: 'MD5', qop: 'auth,auth-int' } },
      { scheme: 'basic', params: { realm: 'cam' } },
    ]);
  });

  it('survives garbage', () => {
    for (const g of ['', '=', 'Digest ===,,,', '"', 'Digest realm="unterminated', 'x'.repeat(5000)]) expect(() => parseChallenges([g])).not.toThrow();
  });
});

describe('ClientAuth', () => {
  it("answers Digest with qop=auth so that core's server-side check accepts it", () => {
    const a = new ClientAuth('pub', 'pw');
    expect(a.accept(parseChallenges(['Digest realm="r", nonce="n1", qop="auth", opaque="o"']))).toBe(true);
    const h = a.header('ANNOUNCE', 'rtsp://h/x')!;
    const parsed = parseAuthorization(h);
    expect(parsed?.scheme).toBe('digest');
    const params = (parsed as { params: Record<string, string> }).params;
    expect(params).toMatchObject({ username: 'pub', realm: 'r', nonce: 'n1', uri: 'rtsp://h/x', qop: 'auth', nc: '00000001', opaque: 'o' });
    expect(verifyDigest(params, 'ANNOUNCE', md5('pub:r:pw'))).toBe(true);
    expect(verifyDigest(params, 'ANNOUNCE', md5('pub:r:other'))).toBe(false);
    // The nonce count increases per request.
    expect((parseAuthorization(a.header('SETUP', 'rtsp://h/x/stream=0')) as { params: Record<string, string> }).params.nc).toBe('00000002');
  });

  it('answers Digest without qop (RFC 2069 style, as gst-rtsp-server asks)', () => {
    const a = new ClientAuth('pub', 'pw');
    a.accept(parseChallenges(['Digest realm="r", nonce="n"']));
    const params = (parseAuthorization(a.header('RECORD', 'rtsp://h/x')) as { params: Record<string, string> }).params;
    expect(params.qop).toBeUndefined();
    expect(verifyDigest(params, 'RECORD', md5('pub:r:pw'))).toBe(true);
  });

  it('prefers Digest over Basic, uses Basic when it is all there is, refuses what it cannot answer', () => {
    const a = new ClientAuth('u', 'p:w');
    expect(a.accept(parseChallenges(['Basic realm="x"', 'Digest realm="x", nonce="n"']))).toBe(true);
    expect(a.scheme).toBe('digest');
    expect(a.accept(parseChallenges(['Basic realm="x"']))).toBe(true);
    expect(a.header('OPTIONS', '*')).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
    expect(new ClientAuth('u', 'p').accept(parseChallenges(['Digest realm="x", nonce="n", algorithm=SHA-256']))).toBe(false);
    expect(new ClientAuth('u', 'p').header('OPTIONS', '*')).toBeUndefined();
  });
});
