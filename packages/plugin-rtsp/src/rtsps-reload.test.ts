import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, until, type TestHost } from '@camd/core/testing';
import rtsp from './index.js';
import { ffmpegReader } from './test-utils.js';

/** A self-signed certificate made by openssl (RSA here: camd serves what it is given). */
function opensslPair(dir: string, name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    {
      stdio: 'pipe',
    },
  );
  return { cert, key };
}

/** The certificate a new TLS connection to `port` is served (its common name), not verified. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().subject.CN as string);
      s.destroy();
    });
    s.on('error', reject);
  });
}

describe('configured certificate files replaced on disk', () => {
  let h: TestHost;
  let dir: string;
  let files: { cert: string; key: string };
  let rtspsPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'camd-certs-'));
    files = opensslPair(dir, 'live', 'first');
    rtspsPort = await freePort();
    h = await createTestHost({
      plugins: [{ def: rtsp, options: { port: await freePort(), tlsPort: rtspsPort, host: '127.0.0.1' } }],
      config: { http: { tls: { port: 0, ...files } }, streams: [testStream()] },
    });
    await h.host.hub.waitForParameters('stream1', 15_000);
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('new connections get the new certificate (HTTPS and RTSPS); an RTSPS reader playing meanwhile keeps playing', async () => {
    expect(await servedName(h.host.tls.httpsPort)).toBe('first');
    expect(await servedName(rtspsPort)).toBe('first');
    const reader = ffmpegReader(`rtsps://viewer:viewer-secret@127.0.0.1:${rtspsPort}/stream1`, 'tcp');
    try {
      await until(() => reader.frames() > 10, 30_000, 'the RTSPS reader to play');
      // As certbot or an internal CA's renewal does: new files beside, renamed over the old ones.
      const next = opensslPair(dir, 'next', 'second');
      renameSync(next.key, files.key);
      renameSync(next.cert, files.cert);
      await until(async () => (await servedName(h.host.tls.httpsPort)) === 'second', 10_000, 'HTTPS to serve the new certificate');
      expect(await servedName(rtspsPort)).toBe('second');
      const at = reader.frames();
      await until(() => reader.frames() > at + 30, 20_000, 'the reader to go on receiving frames');
      expect(reader.child.exitCode).toBeNull();
      expect(h.recentLog()).toMatch(/certificate files changed; new connections get the new certificate/);
    } finally {
      await reader.stop();
    }
  });
});
