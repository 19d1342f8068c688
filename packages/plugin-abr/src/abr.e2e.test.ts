import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import abr from './index.js';
import { LossyRelay } from './lossy-relay.js';

let host: TestHost | undefined;
let relay: LossyRelay | undefined;
let stopReader: (() => void) | undefined;
afterEach(async () => {
  stopReader?.();
  await relay?.stop();
  await host?.close();
  host = relay = stopReader = undefined;
});

describe('plugin-abr end to end', () => {
  it('lowers the live encoder bitrate under real packet loss and climbs back when the loss goes away', async () => {
    const rtspPort = await freePort();
    host = await createTestHost({
      plugins: [
        { def: rtsp, options: { port: rtspPort, host: '127.0.0.1' } },
        // Fast timings (the defaults are seconds apart): climbing stays slower than backing off.
        { def: abr, options: { tickMs: 250, decreaseIntervalMs: 750, increaseIntervalMs: 1000, recoverAfterMs: 1000 } },
      ],
      // Noise does not compress: the measured bitrate follows the encoder target.
      config: { streams: [testStream({ source: 'videotestsrc:snow', bitrate: 2_000_000 })] },
    });
    await host.fetch('/api/state/abrMinBitrate', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"value":400000}' });
    relay = new LossyRelay(rtspPort);
    await relay.start();
    relay.loss = 0.25;
    const ff = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-rtsp_transport',
        'udp',
        '-i',
        `rtsp://viewer:viewer-secret@127.0.0.1:${relay.port}/stream1`,
        '-c',
        'copy',
        '-f',
        'null',
        '-',
      ],
      { stdio: 'ignore' },
    );
    stopReader = () => ff.kill('SIGKILL');
    const stats = async () =>
      (await (await host!.fetch('/api/stats')).json()) as Record<string, { currentBitrate: number; abr: { target: number; lastReason: string | null } }>;
    const target = async () => (await stats()).stream1!.abr.target;

    await until(async () => (await target()) <= 1_100_000, 40_000, 'ABR to cut the bitrate');
    expect(relay.dropped).toBeGreaterThan(0);
    expect((await stats()).stream1!.abr.lastReason).toMatch(/loss .* > 5%/);
    // Measured from the stream itself, not only the setting.
    await until(async () => (await stats()).stream1!.currentBitrate < 1_400_000, 15_000, 'the produced bitrate to fall');

    relay.loss = 0;
    await until(async () => (await target()) >= 2_000_000, 60_000, 'ABR to climb back');
    expect((await stats()).stream1!.abr.lastReason).toMatch(/no loss/);
    await until(async () => (await stats()).stream1!.currentBitrate > 1_500_000, 15_000, 'the produced bitrate to rise');
  });
});
