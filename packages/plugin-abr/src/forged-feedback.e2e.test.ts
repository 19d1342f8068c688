import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, freePort, testStream, TEST_USERS, until, type TestHost } from '@camd/core/testing';
import rtsp from '@camd/plugin-rtsp';
import abr from './index.js';

let host: TestHost | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await host?.close();
  host = undefined;
});

const NOMINAL = 2_000_000;

/** A real RTSP reader (ffmpeg over UDP): it sends honest receiver reports, with no loss on loopback. */
function ffmpegReader(url: string): ChildProcess {
  const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'udp', '-i', url, '-c', 'copy', '-f', 'null', '-'], { stdio: 'ignore' });
  cleanups.push(() => p.kill('SIGKILL'));
  return p;
}

/**
 * A hostile viewer with valid Media_r credentials, over one TCP connection: SETUP (interleaved 0-1),
 * PLAY if asked, then RTCP receiver reports on channel 1 claiming 25 % loss of the stream's SSRC (which
 * SETUP's Transport header gives away). It never reads what it is sent: its own link is as bad as it says.
 */
async function forger(port: number, play: boolean): Promise<{ session: string; sent: () => number }> {
  const url = `rtsp://127.0.0.1:${port}/stream1`;
  const auth = `Authorization: Basic ${Buffer.from(`viewer:${TEST_USERS.viewer.password}`).toString('base64')}\r\n`;
  const sock: Socket = connect(port, '127.0.0.1');
  cleanups.push(() => sock.destroy());
  await new Promise((r) => sock.once('connect', r));
  let text = '';
  const onData = (d: Buffer) => (text += d.toString('latin1'));
  sock.on('data', onData);
  sock.write(`SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n${auth}Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
  const head = await until(() => /Session: ([0-9a-f]+)[\s\S]*?\r\n\r\n/.exec(text) && text, 15_000, 'SETUP to be answered');
  const session = /Session: ([0-9a-f]+)/.exec(head)![1]!;
  const ssrc = Number.parseInt(/ssrc=([0-9A-Fa-f]{8})/.exec(head)![1]!, 16);
  if (play) {
    sock.write(`PLAY ${url} RTSP/1.0\r\nCSeq: 2\r\n${auth}Session: ${session}\r\n\r\n`);
    await until(() => /CSeq: 2/.test(text), 15_000, 'PLAY to be answered');
  }
  // From now on nothing is read: the kernel's buffers fill, and the hub skips this viewer ahead.
  sock.off('data', onData);
  sock.pause();
  let sent = 0;
  const rr = Buffer.alloc(32);
  rr.writeUInt8(0x81, 0); // V=2, one report block
  rr.writeUInt8(201, 1); // RR
  rr.writeUInt16BE(7, 2); // 8 words - 1
  rr.writeUInt32BE(0x0bad_f00d, 4); // the reporter's own SSRC
  rr.writeUInt32BE(ssrc >>> 0, 8); // about the stream
  rr.writeUInt32BE(((64 << 24) | 5000) >>> 0, 12); // fraction lost 64/256 = 25 %, 5000 packets lost
  const frame = Buffer.concat([Buffer.from([0x24, 1, 0, rr.length]), rr]);
  const timer = setInterval(() => {
    sock.write(frame);
    sent++;
  }, 100);
  cleanups.push(() => clearInterval(timer));
  return { session, sent: () => sent };
}

interface AbrFigures {
  target: number;
  loss: number | null;
  evaluations: number;
  ignoredClients: number;
  clients: Array<{ id: string; loss: number }>;
}
type Stats = Record<string, { abr: AbrFigures; rtsp: { clients: Array<{ session: string; state: string; framesDropped: number; bytes: number }> } }>;

describe('ABR that one viewer cannot pull down', () => {
  it('forged receiver reports from an unplayed session and from a playing one among honest readers leave the encoder bitrate alone', async () => {
    const rtspPort = await freePort();
    host = await createTestHost({
      plugins: [
        // A small socket high-water mark and a long stall limit: the silent forger stays connected, skipped ahead by the hub.
        { def: rtsp, options: { port: rtspPort, host: '127.0.0.1', highWaterBytes: 16384, stallMs: 120_000 } },
        { def: abr, options: { tickMs: 250, decreaseIntervalMs: 0, increaseIntervalMs: 60_000, recoverAfterMs: 60_000 } },
      ],
      // Noise does not compress: the stream carries its bitrate, so the silent forger falls behind quickly.
      config: { streams: [testStream({ source: 'videotestsrc:snow', bitrate: NOMINAL })] },
    });
    const stats = async () => (await (await host!.fetch('/api/stats')).json()) as Stats;
    const url = `rtsp://viewer:${TEST_USERS.viewer.password}@127.0.0.1:${rtspPort}/stream1`;
    ffmpegReader(url);
    ffmpegReader(url);
    await until(async () => (await stats()).stream1!.abr.clients.length === 2, 30_000, 'both honest readers to report');

    const unplayed = await forger(rtspPort, false);
    const playing = await forger(rtspPort, true);
    // The playing forger's reports count (it receives the stream) ...
    await until(
      async () => (await stats()).stream1!.abr.clients.some((c) => c.id === playing.session && c.loss === 0.25),
      15_000,
      "the playing forger's reports to reach ABR",
    );
    // ... and for many evaluations the median client (no loss) governs: the bitrate stays.
    const from = (await stats()).stream1!.abr.evaluations;
    let last: Stats['stream1'];
    do {
      last = (await stats()).stream1!;
      expect(last.abr.target).toBe(NOMINAL);
      // The median client: an honest reader (no loss on loopback; under 5 % in any case).
      expect(last.abr.loss).toBeLessThanOrEqual(0.05);
      // A session that never PLAYed reports on nothing: it is not a client of ABR at all.
      expect(last.abr.clients.map((c) => c.id)).not.toContain(unplayed.session);
      await new Promise((r) => setTimeout(r, 100));
    } while (last.abr.evaluations < from + 12 || unplayed.sent() < 20);
    expect(host.host.state.get('streamBitrate')).toBe(NOMINAL);
    expect(last.abr.ignoredClients).toBe(1);
    expect(last.rtsp.clients.find((c) => c.session === unplayed.session)?.state ?? 'gone').not.toBe('playing');

    // The forger's own bad link is its own: the hub skips it to the next keyframe, while the
    // honest readers lose nothing.
    await until(
      async () => ((await stats()).stream1!.rtsp.clients.find((c) => c.session === playing.session)?.framesDropped ?? 0) > 0,
      30_000,
      'the hub to skip the silent forger ahead',
    );
    const readers = (await stats()).stream1!.rtsp.clients.filter((c) => c.session !== playing.session && c.session !== unplayed.session);
    expect(readers).toHaveLength(2);
    for (const r of readers) expect(r).toMatchObject({ state: 'playing', framesDropped: 0 });
    expect(readers.every((r) => r.bytes > 0)).toBe(true);

    // The forged reports are credible: were the worst client to govern (abrQuantile 1, the rule
    // before), the same reports would pull everyone down. The unplayed session still does not count.
    const set = await host.fetch('/api/state/abrQuantile', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"value":1}' });
    expect(set.status).toBe(200);
    await until(async () => (await stats()).stream1!.abr.target < NOMINAL, 15_000, 'the worst client to pull the bitrate down');
    expect((await stats()).stream1!.abr.clients.map((c) => c.id)).not.toContain(unplayed.session);
  });
});
