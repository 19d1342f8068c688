import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issueSelfSigned } from '@camd/core';
import { freePort, testStream } from '@camd/core/testing';
import { runCamd, startDaemon } from './daemon-process.js';

const dir = mkdtempSync(join(tmpdir(), 'camd-tls-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A certificate and key in PEM files, valid around `now` (the past makes an expired one). */
function pair(name: string, now = new Date()): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, issueSelfSigned(privateKey, ['localhost'], now));
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { cert, key };
}

describe('camd and its TLS certificate', () => {
  it('the first start prints the generated certificate\'s fingerprint beside the admin password; "camd tls fingerprint" prints it again', async () => {
    const stateDir = join(dir, 'state');
    const config = {
      http: { tls: { port: await freePort() } },
      rtsp: { tls: { port: await freePort() } },
      plugins: ['@camd/plugin-rtsp'],
      streams: [testStream()],
    };
    const d = await startDaemon(config, { stateDir });
    let out: string;
    try {
      out = d.output();
    } finally {
      await d.stop();
    }
    const block =
      /created administrator "admin" with password: \S+[\s\S]*?issued a self-signed TLS certificate \(first start\) for [^\n]+\n\s+SHA-256 fingerprint: ([0-9A-F:]{95})\n\s+public key pin:\s+sha256\/\/(\S+)/.exec(
        out,
      );
    expect(block, out).not.toBeNull();
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const r = await runCamd(['tls', 'fingerprint', '--config', configPath, '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`SHA-256 fingerprint: ${block![1]}`);
    expect(r.stdout).toContain(`public key pin: sha256//${block![2]}`);
    expect(r.stdout).toContain(`certificate: ${join(stateDir, 'tls', 'cert.pem')}`);
  });

  it('a wrong or expired certificate in the config stops the start with an error naming the file', async () => {
    const start = async (tls: Record<string, unknown>) => {
      const configPath = join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(configPath, JSON.stringify({ http: { port: await freePort(), tls: { port: await freePort(), ...tls } }, streams: [testStream()] }));
      return runCamd(['--config', configPath, '--state-dir', join(dir, 'bad-state')]);
    };
    const old = pair('old', new Date(Date.now() - 1000 * 86400_000));
    const expired = await start(old);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(
      new RegExp(`startup failed: CAMD_ERR_TLS_CERTIFICATE: http.tls.cert: the certificate ${old.cert} expired on 20\\d\\d-\\d\\d-\\d\\dT`),
    );
    writeFileSync(join(dir, 'notes.txt'), 'hello\n');
    const good = pair('good');
    const wrong = await start({ cert: join(dir, 'notes.txt'), key: good.key });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`CAMD_ERR_TLS_CERTIFICATE: http.tls.cert: ${join(dir, 'notes.txt')} is not a PEM certificate`);
    const mismatch = await start({ cert: good.cert, key: old.key });
    expect(mismatch.stderr).toContain(`http.tls.key: ${old.key} is not the private key of the certificate ${good.cert}`);
    const half = await start({ cert: good.cert });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('config.http.tls: give both cert and key');
  });
});
