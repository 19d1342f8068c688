import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../testing/index.js';
import { issueSelfSigned, readCertificatePair } from './certificate.js';
import { Certificates, RENEW_BEFORE_MS } from './certificates.js';

const dirs: string[] = [];
const certs: Certificates[] = [];
afterEach(() => {
  for (const c of certs.splice(0)) c.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'camd-tls-'));
  dirs.push(d);
  return d;
};
/** A logger whose lines a test reads. */
function recorder() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { logger, lines };
}
const open = (o: Partial<Parameters<typeof Certificates.open>[0]> & { stateDir: string }) => {
  const c = Certificates.open({ logger: recorder().logger, ...o });
  certs.push(c);
  return c;
};
/** A certificate and key written as PEM files (as a CA or certbot leaves them). */
function pair(dir: string, name: string, opts: { names?: string[]; now?: Date } = {}) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, issueSelfSigned(privateKey, opts.names ?? ['localhost', '127.0.0.1'], opts.now));
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { cert, key };
}

describe('the generated certificate', () => {
  it('is ECDSA P-256, self-signed, names the host and its addresses, mode 0600, and openssl reads the same fingerprint', () => {
    const stateDir = tempDir();
    const announced: string[] = [];
    const c = open({ stateDir, announce: (_c, why) => announced.push(why) });
    const file = join(stateDir, 'tls', 'cert.pem');
    expect(announced).toEqual(['first start']);
    for (const f of ['cert.pem', 'key.pem']) expect(statSync(join(stateDir, 'tls', f)).mode & 0o777).toBe(0o600);
    const x = new X509Certificate(readFileSync(file));
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.subjectAltName).toContain(`DNS:${hostname()}`);
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text', '-fingerprint', '-sha256'], { encoding: 'utf8' });
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/TLS Web Server Authentication/);
    expect(text).toContain(`sha256 Fingerprint=${c.current.fingerprint}`);
    expect(execFileSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8' })).toMatch(/OK/);
  });

  it('is kept across starts; issued again with the same key when the names change or expiry nears', () => {
    const stateDir = tempDir();
    const first = open({ stateDir, names: () => ['cam', '10.0.0.5'] }).current;
    const announced: string[] = [];
    expect(open({ stateDir, names: () => ['cam', '10.0.0.5'], announce: (_c, why) => announced.push(why) }).current.fingerprint).toBe(first.fingerprint);
    expect(announced).toEqual([]);
    const moved = open({ stateDir, names: () => ['cam', '10.0.0.9'], announce: (_c, why) => announced.push(why) }).current;
    expect(announced).toEqual(["the machine's names changed (10.0.0.9 not in it)"]);
    expect(moved.fingerprint).not.toBe(first.fingerprint);
    expect(moved.spkiPin).toBe(first.spkiPin);
    const later = new Date(moved.validTo.getTime() - RENEW_BEFORE_MS + 86400_000);
    const renewed = open({ stateDir, names: () => ['cam', '10.0.0.9'], now: () => later }).current;
    expect(renewed.validTo.getTime()).toBeGreaterThan(moved.validTo.getTime());
    expect(renewed.spkiPin).toBe(first.spkiPin);
  });

  it('a running daemon issues it again when expiry nears, and its servers are told', async () => {
    let now = new Date();
    const c = open({ stateDir: tempDir(), names: () => ['cam'], now: () => now, checkEveryMs: 50 });
    const seen: string[] = [];
    c.onChange((n) => seen.push(n.fingerprint));
    c.start();
    const first = c.current;
    now = new Date(first.validTo.getTime() - RENEW_BEFORE_MS + 3600_000);
    await until(() => seen.length === 1, 5000, 'the renewal');
    expect(c.current.fingerprint).toBe(seen[0]);
    expect(c.current.validTo.getTime()).toBeGreaterThan(first.validTo.getTime());
    expect(c.current.spkiPin).toBe(first.spkiPin);
  });
});

describe('configured certificate files', () => {
  const field = { certField: 'http.tls.cert', keyField: 'http.tls.key' };

  it('refuse to start with a message naming the field and the file', () => {
    const dir = tempDir();
    const good = pair(dir, 'good');
    const other = pair(dir, 'other');
    const expired = pair(dir, 'old', { now: new Date(Date.now() - 900 * 86400_000) });
    const future = pair(dir, 'future', { now: new Date(Date.now() + 3 * 86400_000) });
    writeFileSync(join(dir, 'garbage.crt'), 'not a certificate\n');
    const attempt = (cert: string, key: string) => {
      try {
        readCertificatePair(cert, key, field);
        return 'loaded';
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`;
      }
    };
    expect(attempt(join(dir, 'missing.crt'), good.key)).toBe(`CAMD_ERR_TLS_CERTIFICATE: http.tls.cert: cannot read ${dir}/missing.crt (no such file)`);
    expect(attempt(join(dir, 'garbage.crt'), good.key)).toMatch(
      new RegExp(`^CAMD_ERR_TLS_CERTIFICATE: http.tls.cert: ${dir}/garbage.crt is not a PEM certificate`),
    );
    expect(attempt(good.cert, join(dir, 'garbage.crt'))).toMatch(
      new RegExp(`^CAMD_ERR_TLS_CERTIFICATE: http.tls.key: ${dir}/garbage.crt is not a PEM private key`),
    );
    expect(attempt(good.cert, other.key)).toBe(`CAMD_ERR_TLS_CERTIFICATE: http.tls.key: ${other.key} is not the private key of the certificate ${good.cert}`);
    expect(attempt(expired.cert, expired.key)).toMatch(
      new RegExp(`^CAMD_ERR_TLS_CERTIFICATE: http.tls.cert: the certificate ${expired.cert} expired on 20\\d\\d-`),
    );
    expect(attempt(future.cert, future.key)).toMatch(new RegExp(`http.tls.cert: the certificate ${future.cert} is valid only from`));
    expect(attempt(good.cert, good.key)).toBe('loaded');
  });

  it('are reloaded when replaced (by rename, as renewals do); a pair that does not load keeps the old one, with an error', async () => {
    const dir = tempDir();
    const live = pair(dir, 'live');
    const { logger, lines } = recorder();
    const c = open({ stateDir: dir, files: live, logger });
    const seen: string[] = [];
    c.onChange((n) => seen.push(n.fingerprint));
    c.start();
    const before = c.current.fingerprint;
    // A renewal: new files written beside, then renamed over the live ones.
    const next = pair(dir, 'next', { names: ['camera.example'] });
    renameSync(next.key, live.key);
    renameSync(next.cert, live.cert);
    await until(() => seen.length === 1, 10_000, 'the renewed certificate');
    expect(c.current.fingerprint).toBe(seen[0]);
    expect(seen[0]).not.toBe(before);
    expect(c.current.names).toBe('DNS:camera.example');
    // A key that does not belong to the certificate: the current pair stays.
    const stray = pair(dir, 'stray');
    renameSync(stray.key, live.key);
    await until(
      () => lines.some((l) => l.level === 50 && /keeping the current certificate: http\.tls\.key: .* is not the private key/.test(l.msg)),
      10_000,
      'the refusal',
    );
    expect(c.current.fingerprint).toBe(seen[0]);
    expect(seen).toHaveLength(1);
  });
});
