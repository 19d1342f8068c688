import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireStreamPackets, parseAuthorization, StreamHub, verifyDigest, type CodecParameters, type EncodedFrame } from '@camd/core';
import { RtspRecordSink } from './rtsp-record.js';
import { PublishError } from './sink.js';
import { parseTarget } from './targets.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const params: CodecParameters = {
  codec: 'h264',
  width: 320,
  height: 240,
  fps: 15,
  profileLevelId: '4d401e',
  sps: Buffer.from([0x67, 0x4d, 0x40, 0x1e]),
  pps: Buffer.from([0x68, 0xee]),
};

interface Seen {
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** A scripted RTSP server: Digest for user `pub` / `pw`, a 2 s session timeout; records what it is sent. */
async function fakeServer(answer: (r: Seen) => string | undefined = () => undefined): Promise<{ port: number; seen: Seen[]; data: Buffer[]; server: Server }> {
  const seen: Seen[] = [];
  const data: Buffer[] = [];
  const server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf[0] === 0x24) {
          if (buf.length < 4 || buf.length < 4 + buf.readUInt16BE(2)) return;
          data.push(buf.subarray(0, 4 + buf.readUInt16BE(2)));
          buf = buf.subarray(4 + buf.readUInt16BE(2));
          continue;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [line, ...rest] = buf.subarray(0, end).toString().split('\r\n');
        const headers = Object.fromEntries(rest.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const len = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + len) return;
        const [method, uri] = line!.split(' ') as [string, string];
        const r: Seen = { method, uri, headers, body: buf.subarray(end + 4, end + 4 + len).toString(), at: Date.now() };
        buf = buf.subarray(end + 4 + len);
        seen.push(r);
        const cseq = `CSeq: ${headers.cseq}\r\n`;
        const custom = answer(r);
        if (custom) {
          sock.write(`RTSP/1.0 ${custom}\r\n${cseq}\r\n`);
          continue;
        }
        const auth = parseAuthorization(headers.authorization);
        if (method !== 'TEARDOWN' && !(auth?.scheme === 'digest' && verifyDigest(auth.params, method, md5('pub:r:pw')))) {
          sock.write(`RTSP/1.0 401 Unauthorized\r\n${cseq}WWW-Authenticate: Digest realm="r", nonce="n${seen.length}"\r\n\r\n`);
          continue;
        }
        if (method === 'SETUP')
          sock.write(`RTSP/1.0 200 OK\r\n${cseq}Session: abc;timeout=2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=4-5;mode=record\r\n\r\n`);
        else sock.write(`RTSP/1.0 200 OK\r\n${cseq}\r\n`);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, seen, data, server };
}

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

function sink(url: string, p: CodecParameters = params) {
  const lease = acquireStreamPackets(new StreamHub(), 'stream1');
  const s = new RtspRecordSink({ target: parseTarget({ stream: 'stream1', url }), params: p, packets: lease.packets, timeoutMs: 2000 });
  cleanup.push(
    () => lease.release(),
    () => s.close(),
  );
  return s;
}

const frame: EncodedFrame = {
  stream: 'stream1',
  seq: 1,
  data: Buffer.from([0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00]),
  keyframe: true,
  codec: 'h264',
  captureTimeMs: Date.now(),
  rtpTimestamp: 1234,
  receivedAt: 0,
  width: 320,
  height: 240,
};

describe('RtspRecordSink against a scripted server', () => {
  it('ANNOUNCE (answering Digest) → SETUP record → RECORD; RTP on the channel the server chose; OPTIONS at half the session timeout; TEARDOWN', async () => {
    const srv = await fakeServer();
    cleanup.push(() => srv.server.close());
    const s = sink(`rtsp://pub:pw@127.0.0.1:${srv.port}/cam?x=1`);
    await s.open();
    expect(srv.seen.map((r) => r.method)).toEqual(['ANNOUNCE', 'ANNOUNCE', 'SETUP', 'RECORD']);
    const [, announce, setup, record] = srv.seen as [Seen, Seen, Seen, Seen];
    expect(announce.headers['content-type']).toBe('application/sdp');
    expect(announce.body).toMatch(/m=video 0 RTP\/AVP 96\r\n/);
    expect(announce.body).toMatch(/a=fmtp:96 packetization-mode=1;profile-level-id=4d401e;sprop-parameter-sets=Z01AHg==,aO4=/);
    expect(announce.body).toMatch(/a=control:stream=0/);
    expect(setup.uri).toBe(`rtsp://127.0.0.1:${srv.port}/cam/stream=0?x=1`);
    expect(setup.headers.transport).toBe('RTP/AVP/TCP;unicast;interleaved=0-1;mode=record');
    expect(record.headers.session).toBe('abc');
    expect(record.headers.range).toBe('npt=0.000-');

    expect(s.write(frame)).toBe(true);
    await new Promise((r) => setTimeout(r, 2300));
    expect(srv.data.length).toBeGreaterThan(0);
    expect(srv.data[0]![1]).toBe(4);
    const options = srv.seen.filter((r) => r.method === 'OPTIONS');
    expect(options.length).toBeGreaterThanOrEqual(2);
    expect(options.every((o) => o.headers.session === 'abc' && o.headers.authorization?.startsWith('Digest '))).toBe(true);
    await s.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.seen.at(-1)!.method).toBe('TEARDOWN');
    expect(s.bytesSent).toBeGreaterThan(frame.data.length);
  });

  it("announces the stream's codec: H.265 with its parameter sets on PT 96, JPEG on the static PT 26", async () => {
    const srv = await fakeServer();
    cleanup.push(() => srv.server.close());
    const h265: CodecParameters = {
      codec: 'h265',
      width: 320,
      height: 240,
      fps: 15,
      vps: Buffer.from([0x40, 0x01, 0x0c]),
      sps: Buffer.from([0x42, 0x01, 0x01]),
      pps: Buffer.from([0x44, 0x01, 0xc1]),
      h265: { profileSpace: 0, profileId: 1, tierFlag: 0, levelId: 60 },
    };
    await sink(`rtsp://pub:pw@127.0.0.1:${srv.port}/cam`, h265).open();
    const announce = srv.seen.filter((r) => r.method === 'ANNOUNCE').at(-1)!;
    expect(announce.body).toMatch(/m=video 0 RTP\/AVP 96\r\na=rtpmap:96 H265\/90000\r\n/);
    expect(announce.body).toMatch(/a=fmtp:96 profile-space=0;profile-id=1;tier-flag=0;level-id=60;sprop-vps=QAEM;sprop-sps=QgEB;sprop-pps=RAHB/);
    expect(announce.body).not.toMatch(/H264/);
    await sink(`rtsp://pub:pw@127.0.0.1:${srv.port}/cam`, { codec: 'mjpeg', width: 320, height: 240, fps: 0 }).open();
    const jpeg = srv.seen.filter((r) => r.method === 'ANNOUNCE').at(-1)!;
    expect(jpeg.body).toMatch(/m=video 0 RTP\/AVP 26\r\na=rtpmap:26 JPEG\/90000\r\n/);
    expect(jpeg.body).toMatch(/a=control:stream=0/);
  });

  it('wrong credentials: a second 401 is a refusal (kind auth), the password in no message', async () => {
    const srv = await fakeServer();
    cleanup.push(() => srv.server.close());
    const err = await sink(`rtsp://pub:not-the-pw@127.0.0.1:${srv.port}/cam`)
      .open()
      .catch((e) => e);
    expect(err).toBeInstanceOf(PublishError);
    expect(err).toMatchObject({ kind: 'auth', message: 'ANNOUNCE: the server refused the credentials (401 Unauthorized)' });
    expect(srv.seen.filter((r) => r.method === 'ANNOUNCE')).toHaveLength(2);
  });

  it('a refusal of the path names the request and the status', async () => {
    const srv = await fakeServer((r) => (r.method === 'ANNOUNCE' ? '404 Not Found' : undefined));
    cleanup.push(() => srv.server.close());
    const err = await sink(`rtsp://127.0.0.1:${srv.port}/nope`)
      .open()
      .catch((e) => e);
    expect(err).toMatchObject({ kind: 'refused', message: 'ANNOUNCE answered 404 Not Found' });
  });

  it('a server that never answers: the request times out', async () => {
    const silent = createServer((sock) => sock.on('data', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => silent.close());
    const err = await sink(`rtsp://127.0.0.1:${(silent.address() as { port: number }).port}/cam`)
      .open()
      .catch((e) => e);
    expect(err).toMatchObject({ kind: 'network', message: 'no answer to ANNOUNCE within 2000 ms' });
  });
});
