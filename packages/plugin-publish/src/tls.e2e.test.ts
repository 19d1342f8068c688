import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, putState, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { makeCerts, nginxRtmp, probe, recordFigures, recordServer, stopAll, streamFps, targetStats, type TestCerts } from './test-utils.js';

// Real TLS servers with a throwaway private CA: gst-rtsp-server (RECORD) speaking rtsps, and nginx's
// stream module terminating TLS in front of nginx-rtmp (how rtmps ingest is deployed).

let host: TestHost | undefined;
let certs: TestCerts | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
  await stopAll();
  certs?.remove();
  certs = undefined;
});

/** Every answer a user can read: no secret of the URL in any of them. */
async function expectNoSecret(h: TestHost, secret: string): Promise<void> {
  for (const path of ['/api/stats', '/api/health', '/api/state', '/api/state/publishTargets']) {
    expect(await (await h.fetch(path)).text(), path).not.toContain(secret);
  }
}

describe('rtsps:// to gst-rtsp-server with TLS', () => {
  it("a self-signed server is named as such in lastError and backed off; with its certificate as the target's ca the server decodes the stream", async () => {
    certs = await makeCerts();
    const port = await freePort();
    const server = await recordServer(port, '/cam', { user: 'pub', password: 'tls-s3cret' }, { tls: certs.selfSigned });
    const url = `rtsps://pub:tls-s3cret@127.0.0.1:${port}/cam`;
    host = await createTestHost({ plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url }] } }] });

    const t = await until(async () => (await targetStats(host!)).find((x) => x.errors >= 2), 15_000, 'two TLS failures');
    expect(t.state).toBe('backoff');
    expect(t.lastError).toBe(
      `127.0.0.1:${port}: TLS: the server's certificate is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); for a private CA or a self-signed server, set the target's ca`,
    );
    expect(t.retryInMs).toBeGreaterThan(0);
    expect(t.errors).toBeLessThanOrEqual(3);
    expect(recordFigures(server).frames).toBe(0);
    await expectNoSecret(host, 'tls-s3cret');

    // A ca that did not sign it is no better, and says so.
    expect((await putState(host, 'publishTargets', [{ stream: 'stream1', url, ca: certs.ca }])).status).toBe(200);
    const wrong = await until(async () => (await targetStats(host!)).find((x) => x.lastError?.includes("target's ca:")), 15_000, 'a failure with the wrong ca');
    expect(wrong.state).toBe('backoff');
    expect(wrong.lastError).toBe(
      `127.0.0.1:${port}: TLS: the server's certificate is not trusted by the target's ca: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
    );

    // The admin trusts the server's own certificate (a file path): the target restarts at once and publishes.
    expect((await putState(host, 'publishTargets', [{ stream: 'stream1', url, ca: certs.selfSigned.cert }])).status).toBe(200);
    await until(() => recordFigures(server).frames > 30, 20_000, 'the server to decode frames over TLS').catch(async (e: Error) => {
      // Say what the target and the server last reported (a CI run once lost the server to a GStreamer abort).
      throw new Error(`${e.message}\ntarget: ${JSON.stringify(await targetStats(host!))}\nserver: ${server.lines.slice(-5).join(' | ')}`);
    });
    expect(recordFigures(server)).toMatchObject({ width: 320, height: 240 });
    const [ok] = await targetStats(host);
    expect(ok).toMatchObject({ protocol: 'rtsp', state: 'publishing', lastError: null, url: `rtsps://pub:***@127.0.0.1:${port}/cam` });
    const read = (await (await host.fetch('/api/state/publishTargets')).json()) as { value: unknown[] };
    expect(read.value).toEqual([{ stream: 'stream1', url: `rtsps://pub:***@127.0.0.1:${port}/cam`, ca: certs.selfSigned.cert }]);
    await expectNoSecret(host, 'tls-s3cret');
  });
});

describe('rtmps:// to nginx-rtmp behind nginx stream TLS', () => {
  it("a certificate of a private CA fails before the muxer starts and is backed off; with the CA's PEM as ca, ffprobe plays the stream back from nginx", async () => {
    certs = await makeCerts();
    const [rtmpPort, tlsPort] = [await freePort(), await freePort()];
    const tls = { port: tlsPort, cert: certs.cert, key: certs.key };
    let nginx = await nginxRtmp(rtmpPort, tls);
    const url = `rtmps://127.0.0.1:${tlsPort}/live/tls-cam-key`;
    host = await createTestHost({ plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url }], confirmMs: 1000 } }] });

    const t = await until(async () => (await targetStats(host!)).find((x) => x.errors >= 2), 15_000, 'two TLS failures');
    expect(t.state).toBe('backoff');
    expect(t.lastError).toMatch(
      new RegExp(
        `^127\\.0\\.0\\.1:${tlsPort}: TLS: the server's certificate is not trusted: unable to verify the first certificate \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)`,
      ),
    );
    expect(t.errors).toBeLessThanOrEqual(3);
    await expectNoSecret(host, 'tls-cam-key');

    // The CA inline (PEM text), as an API client without access to the camera's files would set it.
    const pem = readFileSync(certs.ca, 'utf8');
    expect((await putState(host, 'publishTargets', [{ stream: 'stream1', url, ca: pem }])).status).toBe(200);
    await until(async () => (await targetStats(host!))[0]?.state === 'publishing', 20_000, 'the rtmps target to publish');
    const produced = await streamFps(host);
    const got = await probe(`rtmp://127.0.0.1:${rtmpPort}/live/tls-cam-key`, 3);
    expect(got).toMatchObject({ width: 320, height: 240 });
    expect(got.frames).toBeGreaterThan(3 * produced * 0.6);
    const [ok] = await targetStats(host);
    expect(ok).toMatchObject({ protocol: 'rtmp', lastError: null, url: `rtmps://127.0.0.1:${tlsPort}/live/***` });
    expect(ok!.bytesSent).toBeGreaterThan(10_000);
    await expectNoSecret(host, 'tls-cam-key');

    // The server goes away: the TLS connection's end is the reason given; once it is back, the target reconnects.
    await nginx.stop();
    await until(async () => (await targetStats(host!))[0]?.state === 'backoff', 20_000, 'the target to see nginx gone');
    expect((await targetStats(host))[0]!.lastError).toMatch(
      /^rtmp muxer exited with code 1: (the server closed the TLS connection|127\.0\.0\.1:\d+: ECONNRESET)$/,
    );
    nginx = await nginxRtmp(rtmpPort, tls);
    await until(async () => (await targetStats(host!))[0]?.state === 'publishing', 20_000, 'the target to reconnect');
    const again = await probe(`rtmp://127.0.0.1:${rtmpPort}/live/tls-cam-key`, 2);
    expect(again).toMatchObject({ width: 320, height: 240 });
    expect(again.frames).toBeGreaterThan(5);
    expect((await targetStats(host))[0]).toMatchObject({ lastError: null, reconnects: expect.any(Number) });
    expect((await targetStats(host))[0]!.reconnects).toBeGreaterThanOrEqual(1);
  });
});
