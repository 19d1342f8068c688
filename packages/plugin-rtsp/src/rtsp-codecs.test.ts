import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { basicAuth, putState, TEST_USERS, testStream, until } from '@camd/core/testing';
import { ffprobe, gstLaunch, rawExchange, rtspHost, run, type RtspTestHost } from './test-utils.js';

let h: RtspTestHost | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The SDP of a DESCRIBE, as the server answers it. */
async function describeSdp(host: RtspTestHost, path = '/stream1'): Promise<string> {
  const url = `rtsp://127.0.0.1:${host.rtspPort}${path}`;
  const answer = await rawExchange(
    host.rtspPort,
    `DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nAuthorization: ${basicAuth(TEST_USERS.viewer)}\r\n\r\n`,
  );
  expect(answer).toMatch(/^RTSP\/1.0 200 /);
  return answer.slice(answer.indexOf('\r\n\r\n') + 4);
}

function fmtp(sdp: string): Record<string, string> {
  const line = /^a=fmtp:\d+ (.*)$/m.exec(sdp)?.[1] ?? '';
  return Object.fromEntries(line.split(';').map((kv) => kv.split(/=(.*)/s, 2) as [string, string]));
}

/** A player that decodes (not copies) what it receives, so a frame of a codec it did not set up shows as decoder errors. */
interface Player {
  child: ChildProcess;
  frames(): number;
  stderr(): string;
  exited(): Promise<number | null>;
  stop(): Promise<void>;
}

function player(cmd: string, args: string[], countFrames: (chunk: string, prev: number) => number): Player {
  const child = spawn('nice', ['-n', '10', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let frames = 0;
  let err = '';
  child.stdout!.on('data', (d: Buffer) => void (frames = countFrames(d.toString(), frames)));
  child.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    frames: () => frames,
    stderr: () => err,
    exited: () => exit,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** ffmpeg decoding the stream to nothing, reporting frames on stdout. */
function ffmpegPlayer(url: string, transport: 'tcp' | 'udp' = 'tcp'): Player {
  return player(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', transport, '-i', url, '-f', 'null', '-progress', 'pipe:1', '-'],
    (s, prev) => {
      const m = [...s.matchAll(/^frame=(\d+)/gm)];
      return m.length ? Number(m.at(-1)![1]) : prev;
    },
  );
}

/** GStreamer's rtspsrc with whatever depayloader and decoder the SDP calls for; every decoded frame prints a line. */
function gstPlayer(url: string, user = TEST_USERS.viewer): Player {
  const launch = `rtspsrc location=${url} protocols=tcp user-id=${user.username} user-pw=${user.password} latency=0 ! decodebin ! fakesink silent=false sync=false`;
  return player('gst-launch-1.0', ['-v', ...launch.split(' ')], (s, prev) => prev + (s.match(/last-message = chain/g)?.length ?? 0));
}

async function stats(host: RtspTestHost): Promise<Record<string, { clientCount: number; codec: string; rtsp: { clients: Array<{ codec: string }> } }>> {
  return (await (await host.fetch('/api/stats')).json()) as never;
}

describe('RTSP: H.265 (RFC 7798)', () => {
  it('ffprobe, GStreamer rtspsrc and OpenCV play it; the SDP carries H265/90000, sprop-vps/sps/pps and the SPS profile, tier and level', async () => {
    h = await rtspHost([testStream({ codec: 'h265' })]);
    const params = await h.host.hub.waitForParameters('stream1', 20_000);
    expect(params.codec).toBe('h265');
    const sdp = await describeSdp(h);
    expect(sdp).toMatch(/^m=video 0 RTP\/AVP 96$/m);
    expect(sdp).toMatch(/^a=rtpmap:96 H265\/90000$/m);
    const f = fmtp(sdp);
    expect(Buffer.from(f['sprop-vps']!, 'base64').equals(params.vps!)).toBe(true);
    expect(Buffer.from(f['sprop-sps']!, 'base64').equals(params.sps!)).toBe(true);
    expect(Buffer.from(f['sprop-pps']!, 'base64').equals(params.pps!)).toBe(true);
    // The SPS itself (byte 3: profile space, tier, profile; byte 14 of the RBSP: level) says Main, Main tier.
    expect([f['profile-id'], f['tier-flag'], f['profile-space']]).toEqual(['1', '0', '0']);
    expect(f['level-id']).toBe(String(params.h265!.levelId));

    const probe = await ffprobe(h.url());
    expect(probe.streams?.[0]).toMatchObject({ codec_name: 'hevc', width: 320, height: 240, profile: 'Main', r_frame_rate: '15/1' });
    expect((await ffprobe(h.url(), 'udp')).streams?.[0]).toMatchObject({ codec_name: 'hevc', width: 320, height: 240 });

    const gst = await gstLaunch(
      [
        'rtspsrc',
        `location=${h.url('/stream1', null)}`,
        'user-id=viewer',
        'user-pw=viewer-secret',
        'protocols=tcp',
        '!',
        'rtph265depay',
        '!',
        'h265parse',
        '!',
        'avdec_h265',
        '!',
        'video/x-raw,width=320,height=240',
        '!',
        'fakesink',
        'num-buffers=15',
      ],
      { timeout: 30_000, nice: true },
    );
    expect(gst.stderr).not.toMatch(/ERROR/);

    const cv = await run(
      '/usr/bin/python3',
      ['-c', `import cv2; c = cv2.VideoCapture(${JSON.stringify(h.url())}); ok, f = c.read(); print(ok, f.shape if ok else None)`],
      {
        timeout: 30_000,
      },
    );
    expect(cv.stdout.trim()).toBe('True (240, 320, 3)');
  });

  it('a snapshot of an H.265 stream is a JPEG of its picture', async () => {
    h = await rtspHost([testStream({ codec: 'h265' })]);
    await h.host.hub.waitForParameters('stream1', 20_000);
    const res = await h.fetch('/api/streams/stream1/snapshot.jpg');
    expect(res.status).toBe(200);
    const jpeg = Buffer.from(await res.arrayBuffer());
    expect([...jpeg.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    expect([jpeg.readUInt16BE(sof + 7), jpeg.readUInt16BE(sof + 5)]).toEqual([320, 240]);
  });
});

describe('RTSP: MJPEG (RFC 2435)', () => {
  it('serves JPEG/90000 on the static payload type 26 that ffprobe (TCP and UDP), GStreamer and OpenCV play, tables in-band', async () => {
    h = await rtspHost([testStream({ codec: 'mjpeg' })]);
    await h.host.hub.waitForParameters('stream1', 20_000);
    const sdp = await describeSdp(h);
    expect(sdp).toMatch(/^m=video 0 RTP\/AVP 26$/m);
    expect(sdp).toMatch(/^a=rtpmap:26 JPEG\/90000$/m);
    expect((await ffprobe(h.url())).streams?.[0]).toMatchObject({ codec_name: 'mjpeg', width: 320, height: 240 });
    expect((await ffprobe(h.url(), 'udp')).streams?.[0]).toMatchObject({ codec_name: 'mjpeg', width: 320, height: 240 });
    const cv = await run(
      '/usr/bin/python3',
      ['-c', `import cv2; c = cv2.VideoCapture(${JSON.stringify(h.url())}); ok, f = c.read(); print(ok, f.shape if ok else None)`],
      {
        timeout: 30_000,
      },
    );
    expect(cv.stdout.trim()).toBe('True (240, 320, 3)');
    const gst = await gstLaunch(
      [
        'rtspsrc',
        `location=${h.url('/stream1', null)}`,
        'user-id=viewer',
        'user-pw=viewer-secret',
        'protocols=tcp',
        '!',
        'rtpjpegdepay',
        '!',
        'jpegdec',
        '!',
        'video/x-raw,width=320,height=240',
        '!',
        'fakesink',
        'num-buffers=15',
      ],
      { timeout: 30_000, nice: true },
    );
    expect(gst.stderr).not.toMatch(/ERROR/);
  });
});

describe('RTSP: profile-level-id', () => {
  it.each([
    ['baseline', /^42[ce]0/, 'Constrained Baseline'],
    ['high', /^640c/, 'High'], // x264 without B-frames, declared Constrained High
  ] as const)('matches the SPS the encoder sends (%s)', async (profile, expected, ffprobeProfile) => {
    h = await rtspHost([testStream({ profile })]);
    await h.host.hub.waitForParameters('stream1', 20_000);
    const f = fmtp(await describeSdp(h));
    const sps = Buffer.from(f['sprop-parameter-sets']!.split(',')[0]!, 'base64');
    expect(sps[0]! & 0x1f).toBe(7);
    expect(f['profile-level-id']).toBe(sps.subarray(1, 4).toString('hex'));
    expect(f['profile-level-id']).toMatch(expected);
    expect((await ffprobe(h.url())).streams?.[0]?.profile).toBe(ffprobeProfile);
  });
});

describe('RTSP: a codec change never feeds a reader a codec it did not negotiate', () => {
  it('h264 → h265 → mjpeg → h264: connected ffmpeg (TCP, UDP) and GStreamer readers end cleanly with the reason, new readers get the new codec, stats and health tell the truth', async () => {
    h = await rtspHost([testStream()]);
    await h.host.hub.waitForParameters('stream1', 20_000);
    const host = h;
    const steps = [
      ['h264', 'h265', 'hevc'],
      ['h265', 'mjpeg', 'mjpeg'],
      ['mjpeg', 'h264', 'h264'],
    ] as const;
    for (const [from, to, probeName] of steps) {
      const players = [ffmpegPlayer(host.url()), ffmpegPlayer(host.url(), 'udp'), gstPlayer(host.url('/stream1', null))];
      try {
        await until(() => players.every((p) => p.frames() >= 10), 30_000, `every player to decode ${from}`);
        await until(async () => (await stats(host)).stream1!.clientCount === 3, 10_000, 'three clients in the stats');
        const before = await stats(host);
        expect(before.stream1!.codec).toBe(from);
        expect(before.stream1!.rtsp.clients.map((c) => c.codec)).toEqual([from, from, from]);
        expect((await putState(host, 'videoEncoder', to)).status).toBe(200);
        // Every player ends by itself (RTCP BYE, over UDP too, then the connection closes).
        const codes = await Promise.race([
          Promise.all(players.map((p) => p.exited())),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('players still running 20 s after the codec change')), 20_000)),
        ]);
        expect(codes).toHaveLength(3);
        // No frame of the new codec reached a decoder set up for the old one.
        for (const p of players) expect(p.stderr()).not.toMatch(/\[(h264|hevc|mjpeg) @|data partitioning|no frame|Invalid data|decoding error/i);
        await until(async () => (await stats(host)).stream1!.codec === to, 20_000, `the stream to run ${to}`);
        const after = await stats(host);
        expect(after.stream1!.clientCount).toBe(0);
        expect((await ffprobe(host.url())).streams?.[0]?.codec_name).toBe(probeName);
        await until(async () => (await host.fetch('/api/health', { user: null })).status === 200, 20_000, 'health to be healthy');
      } finally {
        await Promise.all(players.map((p) => p.stop()));
      }
    }
  }, 240_000);
});

describe('RTSP: the reason a session ended', () => {
  it('reaches the client as the reason of an RTCP BYE on its RTCP channel, then the connection closes', async () => {
    h = await rtspHost([testStream()]);
    await h.host.hub.waitForParameters('stream1', 20_000);
    const url = `rtsp://127.0.0.1:${h.rtspPort}/stream1`;
    const auth = `Authorization: ${basicAuth(TEST_USERS.viewer)}\r\n`;
    const socket = connect(h.rtspPort, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('data', (d) => void (data = Buffer.concat([data, d])));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const answer = async (n: number) => until(() => (data.toString('latin1').match(/RTSP\/1.0 200 OK/g)?.length ?? 0) >= n, 10_000, `answer ${n}`);
    socket.write(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\n${auth}\r\n`);
    await answer(1);
    socket.write(`SETUP ${url}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n${auth}Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    await answer(2);
    const session = /Session: ([0-9a-f]+)/.exec(data.toString('latin1'))![1]!;
    socket.write(`PLAY ${url} RTSP/1.0\r\nCSeq: 3\r\n${auth}Session: ${session}\r\n\r\n`);
    await answer(3);
    await until(() => data.length > 20_000, 10_000, 'media');
    expect((await putState(h, 'videoEncoder', 'mjpeg')).status).toBe(200);
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('connection still open')), 20_000))]);
    // Interleaved frames from the end: the last one on channel 1 is SR + BYE with the reason.
    const reason = 'stream stream1 changed from H.264 to MJPEG; this session negotiated H.264: DESCRIBE again';
    const at = data.lastIndexOf(Buffer.from(reason));
    expect(at).toBeGreaterThan(0);
    const frame = data.lastIndexOf(Buffer.from([0x24, 0x01]), at);
    const rtcp = data.subarray(frame + 4, frame + 4 + data.readUInt16BE(frame + 2));
    const bye = rtcp.indexOf(Buffer.from([0x81, 203]));
    expect(bye).toBeGreaterThan(0);
    expect(rtcp.subarray(bye + 9, bye + 9 + rtcp[bye + 8]!).toString()).toBe(reason);
    // The codec change reached this client as the end of its session, not as JPEG in its H.264 track.
    expect(data.subarray(frame).includes(Buffer.from([0x24, 0x00]))).toBe(false);
    await putState(h, 'videoEncoder', 'h264');
  });
});
