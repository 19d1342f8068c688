import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, until, type TestHost } from '@camd/core/testing';
import publish from './index.js';
import { nginxRtmp, probe, srtRelay, stopAll, streamFps, targetStats } from './test-utils.js';

let host: TestHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
  await stopAll();
});

describe('RTMP to nginx-rtmp', () => {
  it('ffprobe plays the stream back from nginx at 320x240 and the stream rate; after an nginx restart the target reconnects', async () => {
    const port = await freePort();
    let nginx = await nginxRtmp(port);
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtmp://127.0.0.1:${port}/live/cam-key` }], confirmMs: 1000 } }],
    });
    await until(async () => (await targetStats(host!))[0]?.state === 'publishing', 20_000, 'the RTMP target to publish');
    const produced = await streamFps(host);
    const got = await probe(`rtmp://127.0.0.1:${port}/live/cam-key`, 3);
    expect(got).toMatchObject({ width: 320, height: 240 });
    expect(got.frames).toBeGreaterThan(3 * produced * 0.6);
    const t = (await targetStats(host))[0]!;
    expect(t).toMatchObject({ protocol: 'rtmp', url: `rtmp://127.0.0.1:${port}/live/***`, reconnects: 0 });
    expect(t.bytesSent).toBeGreaterThan(10_000);
    expect(await (await host.fetch('/api/state/publishTargets')).text()).not.toContain('cam-key');

    await nginx.stop();
    await until(async () => (await targetStats(host!))[0]?.state === 'backoff', 20_000, 'the target to see nginx gone');
    expect((await targetStats(host))[0]!.lastError).toMatch(/rtmp muxer exited/);
    nginx = await nginxRtmp(port);
    await until(async () => (await targetStats(host!))[0]?.state === 'publishing', 20_000, 'the target to reconnect');
    expect((await targetStats(host))[0]!.reconnects).toBeGreaterThanOrEqual(1);
    const again = await probe(`rtmp://127.0.0.1:${port}/live/cam-key`, 2);
    expect(again).toMatchObject({ width: 320, height: 240 });
    expect(again.frames).toBeGreaterThan(5);
  });

  it("nothing listening: the muxer child exits with GStreamer's reason and the target backs off", async () => {
    const port = await freePort();
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `rtmp://127.0.0.1:${port}/live/secret-key` }] } }],
    });
    const t = await until(async () => (await targetStats(host!)).find((x) => x.errors >= 1), 15_000, 'a failure');
    expect(t.state).toBe('backoff');
    expect(t.lastError).toMatch(/^rtmp muxer exited with code 1: Connection refused/);
    expect(t.lastError).not.toContain('secret-key');
  });
});

describe('SRT to srt-live-transmit', () => {
  it('MPEG-TS over SRT in caller mode with a passphrase; ffprobe reads it back through the relay', async () => {
    const [inPort, outPort] = [await freePort(), await freePort()];
    srtRelay(inPort, outPort, 'passphrase-0123');
    host = await createTestHost({
      plugins: [
        {
          def: publish,
          options: { targets: [{ stream: 'stream1', url: `srt://127.0.0.1:${inPort}?passphrase=passphrase-0123&streamid=cam1` }], confirmMs: 1000 },
        },
      ],
    });
    await until(async () => (await targetStats(host!))[0]?.state === 'publishing', 20_000, 'the SRT target to publish');
    const produced = await streamFps(host);
    const got = await probe(`srt://127.0.0.1:${outPort}?mode=caller`, 3);
    expect(got).toMatchObject({ width: 320, height: 240 });
    expect(got.frames).toBeGreaterThan(3 * produced * 0.6);
    const t = (await targetStats(host))[0]!;
    expect(t.url).toBe(`srt://127.0.0.1:${inPort}?passphrase=***&streamid=***`);
    expect(JSON.stringify(await (await host.fetch('/api/stats')).json())).not.toContain('passphrase-0123');
  });

  it('a wrong passphrase is refused by the listener: the target backs off with the reason, nothing leaks', async () => {
    const [inPort, outPort] = [await freePort(), await freePort()];
    srtRelay(inPort, outPort, 'passphrase-0123');
    host = await createTestHost({
      plugins: [{ def: publish, options: { targets: [{ stream: 'stream1', url: `srt://127.0.0.1:${inPort}?passphrase=wrong-phrase-99` }], confirmMs: 3000 } }],
    });
    const t = await until(async () => (await targetStats(host!)).find((x) => x.errors >= 1), 20_000, 'a refusal');
    expect(t.state).toBe('backoff');
    // srtsink reports a rejected handshake only as a connection that does not exist.
    expect(t.lastError).toMatch(/^srt muxer exited with code 1: Failed to write to SRT socket/);
    expect(JSON.stringify(await (await host.fetch('/api/stats')).json())).not.toContain('wrong-phrase-99');
  });
});
