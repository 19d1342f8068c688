/**
 * RTSP: the request parser and interleaved demux, a whole connection (parser + dispatch + sessions),
 * the Transport header, and the RTSP-over-HTTP framing (first bytes, base64 stream).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { createLogger, LogThrottle, StreamHub, type Caller, type StreamSettings } from '../../packages/core/src/index.js';
import { classifyFirstBytes, Base64Stream } from '../../packages/plugin-rtsp/src/http-tunnel.js';
import { LIMITS, RequestParser, STATUS_TEXT, type ParsedItem } from '../../packages/plugin-rtsp/src/request-parser.js';
import { RtspConnection, type ConnParent } from '../../packages/plugin-rtsp/src/rtsp-connection.js';
import { RtspSession } from '../../packages/plugin-rtsp/src/rtsp-session.js';
import { MAX_TRANSPORT_HEADER, parseTransport } from '../../packages/plugin-rtsp/src/transport-header.js';
import { Finding, type FuzzTarget } from '../harness.js';
import { chunkCuts, chunks, mutated, mutatedText, showBytes, token, type Mutated } from '../mutate.js';
import { authorizationHeader } from './auth.js';

const METHODS = ['OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'ANNOUNCE', 'RECORD', 'REDIRECT', 'GET'];

/** One `Transport` header as clients write it: a list of specs, each a profile and parameters. */
export const transportHeader: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom('RTP/AVP', 'RTP/AVP/TCP', 'RTP/AVP/UDP', 'RTP/SAVP', 'rtp/avp/tcp', 'RAW/RAW/UDP'),
      fc.array(
        fc.oneof(
          fc.constantFrom('unicast', 'multicast', 'mode=play', 'mode="PLAY"', 'append', 'ttl=16'),
          fc.tuple(fc.nat(300), fc.option(fc.nat(300))).map(([a, b]) => `interleaved=${a}${b === null ? '' : `-${b}`}`),
          fc.tuple(fc.nat(70000), fc.option(fc.nat(70000))).map(([a, b]) => `client_port=${a}${b === null ? '' : `-${b}`}`),
          fc.ipV4().map((a) => `destination=${a}`),
          fc.nat().map((n) => `ssrc=${n.toString(16)}`),
        ),
        { maxLength: 5 },
      ),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((specs) => specs.map(([p, params]) => [p, ...params].join(';')).join(','));

const url = fc.oneof(
  fc.constantFrom('rtsp://127.0.0.1:8554/stream1', 'rtsp://127.0.0.1:8554/stream1/trackID=0', 'rtsp://h/stream2', '*', 'rtsp://h/stream1/trackID=1'),
  token('abcdefghijklmnopqrstuvwxyz0123456789/:.%?=&', 40).map((p) => `rtsp://h/${p}`),
);

/** One request as a client writes it, with a matching (or, sometimes, lying) Content-Length. */
const request = fc
  .record({
    method: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...METHODS) }, { weight: 1, arbitrary: token('ABCDEFGHIJKLMNOPQRSTUVWXYZ_', 40) }),
    url,
    version: fc.oneof(
      { weight: 6, arbitrary: fc.constant('RTSP/1.0') },
      { weight: 1, arbitrary: fc.constantFrom('RTSP/2.0', 'RTSP/1.1', 'HTTP/1.1', 'RTSP/10') },
    ),
    cseq: fc.oneof({ weight: 5, arbitrary: fc.nat().map(String) }, { weight: 1, arbitrary: fc.constantFrom('', 'x', '99999999999', '-1') }),
    session: fc.option(fc.oneof(fc.constant('SESSION'), token('0123456789abcdef', 16)), { nil: undefined }),
    transport: fc.option(transportHeader, { nil: undefined }),
    authorization: fc.option(authorizationHeader, { nil: undefined }),
    extra: fc.array(fc.tuple(token(), token('abcdefghijklmnopqrstuvwxyz0123456789 ;=,/', 30)), { maxLength: 3 }),
    body: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    lie: fc.option(fc.constantFrom('0', '1', '65537', '999999999', '1x', ''), { nil: undefined }),
  })
  .map((r) => {
    const h: string[] = [`${r.method} ${r.url} ${r.version}`, `CSeq: ${r.cseq}`];
    if (r.session) h.push(`Session: ${r.session}`);
    if (r.transport) h.push(`Transport: ${r.transport}`);
    if (r.authorization) h.push(`Authorization: ${r.authorization}`);
    for (const [k, v] of r.extra) h.push(`${k}: ${v}`);
    const body = Buffer.from(r.body ?? '', 'utf8');
    if (r.body !== undefined || r.lie !== undefined) h.push(`Content-Length: ${r.lie ?? body.length}`);
    return Buffer.concat([Buffer.from(`${h.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
  });

/** An interleaved frame (`$`, channel, length, data), as a client sends RTCP receiver reports. */
const interleaved = fc.tuple(fc.constantFrom(0, 1, 2, 3, 255), fc.uint8Array({ maxLength: 64 })).map(([ch, data]) => {
  const b = Buffer.alloc(4 + data.length);
  b[0] = 0x24;
  b[1] = ch;
  b.writeUInt16BE(data.length, 2);
  Buffer.from(data).copy(b, 4);
  return b;
});

/** An RTCP receiver report, as a reader sends it on its RTCP channel. */
const RR = Buffer.from('81c90007000000010000cafe00000000000000010000000000000000', 'hex');

/**
 * A reader's whole session, in order: DESCRIBE, SETUP (TCP interleaved or UDP), then PLAY, PAUSE,
 * keep-alives, RTCP on the interleaved channel, TEARDOWN. `SESSION` stands for the id the SETUP
 * answered (the fake server resolves it), so that requests reach live sessions.
 */
const script = fc
  .record({
    stream: fc.constantFrom('stream1', 'stream2'),
    tcp: fc.boolean(),
    steps: fc.array(fc.constantFrom('PLAY', 'PAUSE', 'GET_PARAMETER', 'SET_PARAMETER', 'TEARDOWN', 'SETUP', 'RTCP', 'OPTIONS'), { maxLength: 5 }),
  })
  .map(({ stream, tcp, steps }) => {
    let cseq = 0;
    const req = (method: string, url: string, extra = '') =>
      Buffer.from(`${method} ${url} RTSP/1.0\r\nCSeq: ${++cseq}\r\nAuthorization: Basic dmlld2VyOnB3\r\n${extra}\r\n`, 'latin1');
    const base = `rtsp://127.0.0.1:8554/${stream}`;
    const transport = tcp ? 'RTP/AVP/TCP;unicast;interleaved=0-1' : 'RTP/AVP;unicast;client_port=5000-5001';
    const parts = [req('DESCRIBE', base, 'Accept: application/sdp\r\n'), req('SETUP', `${base}/trackID=0`, `Transport: ${transport}\r\n`)];
    for (const step of steps) {
      if (step === 'RTCP') parts.push(Buffer.concat([Buffer.from([0x24, 1, 0, RR.length]), RR]));
      else if (step === 'SETUP') parts.push(req('SETUP', `${base}/trackID=0`, `Transport: ${transport}\r\nSession: SESSION\r\n`));
      else parts.push(req(step, base, 'Session: SESSION\r\n'));
    }
    return Buffer.concat(parts);
  });

/** What one client connection sends: a reader's session, or requests, interleaved frames and keep-alive CRLFs in any order. */
const conversation = fc
  .oneof(
    script,
    fc
      .array(fc.oneof({ weight: 4, arbitrary: request }, { weight: 1, arbitrary: interleaved }, { weight: 1, arbitrary: fc.constant(Buffer.from('\r\n')) }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((parts) => Buffer.concat(parts)),
  )
  .map((bytes) => ({ bytes, meta: undefined }));

/** What hostile clients send on one connection (bench/hostile-rtsp.ts sends these to servers). */
export const hostileConversation: fc.Arbitrary<Mutated> = mutated(conversation);

type Stream = Mutated & { cuts: number[] };
const streamInput: fc.Arbitrary<Stream> = fc.tuple(hostileConversation, chunkCuts).map(([m, cuts]) => ({ ...m, cuts }));
const showStream = (x: Stream) => `${showBytes(x.bytes)} cut at ${JSON.stringify(x.cuts)}`;

function checkItems(items: ParsedItem[]): void {
  items.forEach((item, i) => {
    if (item.kind === 'error') {
      if (!(item.status in STATUS_TEXT)) throw new Finding(`error status ${item.status} has no reason phrase`);
      if (i !== items.length - 1) throw new Finding('items after an error');
    } else if (item.kind === 'request') {
      const r = item.request;
      if (r.url.length > LIMITS.url) throw new Finding(`URL of ${r.url.length} bytes accepted`);
      if (Object.keys(r.headers).length > LIMITS.headers) throw new Finding('too many headers accepted');
      if (r.body.length > LIMITS.body) throw new Finding('body over the limit accepted');
      const cl = r.headers['content-length'];
      if (cl !== undefined && Number(cl) !== r.body.length) throw new Finding(`body of ${r.body.length} bytes for Content-Length ${cl}`);
      for (const k of Object.keys(r.headers)) if (k !== k.toLowerCase()) throw new Finding(`header name ${k} not lower case`);
    } else if (item.data.length > 0xffff) throw new Finding('interleaved frame longer than 16 bits allow');
  });
}

export const rtspRequest: FuzzTarget<Stream> = {
  name: 'rtsp-request',
  what: 'RequestParser.push (plugin-rtsp request-parser.ts): requests + interleaved frames, cut in random chunks',
  arbitrary: streamInput,
  show: showStream,
  run(x) {
    const p = new RequestParser();
    const items: ParsedItem[] = [];
    for (const c of chunks(x.bytes, x.cuts)) items.push(...p.push(c));
    checkItems(items);
    // The same bytes in one piece must parse to the same items: chunking is the socket's, not the client's.
    const whole = new RequestParser().push(x.bytes);
    if (whole.length !== items.length || whole.some((w, i) => w.kind !== items[i]!.kind))
      throw new Finding(`chunked parse gave ${items.map((i) => i.kind)} but whole gave ${whole.map((i) => i.kind)}`);
    // A pristine conversation is well-formed bar lying Content-Lengths and odd versions; with none, every request must come out.
  },
};

/** A socket that records what the connection writes, with the few methods RtspConnection calls. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  ended = false;
  written: Buffer[] = [];
  remoteAddress = '::ffff:127.0.0.1';
  localAddress = '127.0.0.1';
  writableLength = 0;
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  get writable(): boolean {
    return !this.destroyed && !this.ended;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  write(b: Buffer): boolean {
    if (!this.destroyed) this.written.push(b);
    return true;
  }
  end(cb?: () => void): this {
    this.ended = true;
    cb?.();
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit('close');
    }
    return this;
  }
}

const caller = { username: 'viewer', permissions: ['Media_r'] } as unknown as Caller;
const settings = (name: string) => ({ name, path: `/${name}`, codec: 'h264', fps: 15, bitrate: 500_000, width: 320, height: 240 }) as unknown as StreamSettings;

/** One logger for every input: each pino instance registers an exit handler, and that would pile up. */
const logger = createLogger({ level: 'silent' });

/** A parent that is not an RtspServer (as rtsp-connection.test.ts's): real sessions and hub, fake streams; any Authorization passes. */
function fakeParent(log: string[]): { parent: ConnParent; sessions: Map<string, RtspSession> } {
  const hub = new StreamHub();
  const sessions = new Map<string, RtspSession>();
  // An error logged by the connection is what it does with an exception from its own dispatch: a finding.
  const spy = Object.create(logger) as typeof logger;
  spy.error = ((obj: unknown, msg?: string) => void log.push(`${msg}: ${(obj as { err?: Error }).err?.stack ?? ''}`)) as typeof logger.error;
  const parent: ConnParent = {
    log: spy,
    logThrottle: new LogThrottle(),
    idleTimeoutMs: 60_000,
    headTimeoutMs: 10_000,
    // The auth parsers are fuzzed on their own ('authorization'); here a header is enough, so that
    // requests reach SETUP/PLAY. No header: 401.
    authenticate: async (req) => (req.authorization === undefined ? { ok: false, status: 401, headers: {} } : { ok: true, caller }),
    resolve(u) {
      const m = /^rtsp:\/\/[^/]+\/(stream\d)(?:\/(.*))?$/.exec(u);
      return m ? { settings: settings(m[1]!), base: `rtsp://h/${m[1]}`, track: m[2] } : undefined;
    },
    parameters: async () => ({ codec: 'h264', width: 320, height: 240, fps: 15, sps: Buffer.from([0x67, 0x42, 0, 0x1e]), pps: Buffer.from([0x68, 0xce]) }),
    createSession(stream, who, conn, negotiated) {
      const s = new RtspSession({
        negotiated,
        stream,
        caller: who,
        ownerId: conn.id,
        remoteAddress: conn.remoteAddress,
        hub,
        packets: { ssrc: 0xcafe, packetsOf: () => [] },
        limits: { maxQueue: 10, highWater: 1 << 20, stallMs: 1000 },
        timeoutMs: 30_000,
        sink: { socket: conn.socket, sendUdp: () => undefined, sendUdpRtcp: () => undefined },
        events: { started: () => undefined, closed: (x) => void sessions.delete(x.id), stalled: () => undefined, rejected: () => undefined },
      });
      sessions.set(s.id, s);
      return s;
    },
    // `SESSION` in a generated request: the session made first (the server's lookup is not what is fuzzed here).
    findSession: (id) => (id === 'SESSION' ? sessions.values().next().value : sessions.get(id)),
    udpPorts: () => ({ rtp: 40000, rtcp: 40001 }),
    onRtcp: () => undefined,
  };
  return { parent, sessions };
}

export const rtspConnection: FuzzTarget<Stream> = {
  name: 'rtsp-connection',
  what: 'RtspConnection (rtsp-connection.ts) on a fake socket: demux, dispatch, SETUP/PLAY/TEARDOWN with real sessions; a 500 or logged error is a finding',
  arbitrary: streamInput,
  show: showStream,
  async run(x) {
    const errors: string[] = [];
    const { parent, sessions } = fakeParent(errors);
    const socket = new FakeSocket();
    const conn = new RtspConnection(socket as unknown as Socket, parent);
    for (const c of chunks(x.bytes, x.cuts)) {
      conn.feed(c);
      await settle(conn);
    }
    socket.destroy();
    await settle(conn);
    // Only a playing UDP session outlives its control connection (until TEARDOWN or its timeout).
    const left = [...sessions.values()].filter((s) => !(s.transport?.kind === 'udp' && s.state === 'playing'));
    for (const s of sessions.values()) s.teardown('fuzz input done');
    if (left.length > 0)
      throw new Finding(`${left.length} session(s) (${left.map((s) => `${s.transport?.kind} ${s.state}`)}) left open after the connection closed`);
    const out = Buffer.concat(socket.written).toString('latin1');
    for (const m of out.matchAll(/^RTSP\/1\.0 (\d{3}) /gm)) if (m[1] === '500') throw new Finding(`answered 500: ${errors[0] ?? ''}`);
    if (errors.length) throw new Finding(errors[0]!);
  },
};

/** Lets the connection's request queue run to its end (it takes a few requests at a time, then more as they are answered). */
async function settle(conn: RtspConnection): Promise<void> {
  const queue = () => (conn as unknown as { queue: Promise<void> }).queue;
  for (let q = queue(), i = 0; i < 1000; i++) {
    await q;
    await new Promise<void>((r) => setImmediate(r));
    if (q === (q = queue())) return;
  }
}

export const rtspTransport: FuzzTarget<Mutated> = {
  name: 'rtsp-transport',
  what: 'parseTransport (plugin-rtsp transport-header.ts): the SETUP Transport header',
  arbitrary: mutatedText(transportHeader),
  show: (x) => showBytes(x.bytes),
  run(x) {
    const header = x.bytes.toString('latin1');
    const t = parseTransport(header, '10.0.0.7');
    if (!t) return;
    if (header.length > MAX_TRANSPORT_HEADER) throw new Finding('oversized header accepted');
    if (t.kind === 'tcp') {
      for (const c of [t.rtpChannel, t.rtcpChannel]) if (!Number.isInteger(c) || c < 0 || c > 255) throw new Finding(`channel ${c}`);
    } else {
      if (t.address !== '10.0.0.7') throw new Finding(`UDP to ${t.address}, not the client`);
      for (const p of [t.rtpPort, t.rtcpPort]) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Finding(`port ${p}`);
    }
  },
};

/** The first bytes of either side of an RTSP-over-HTTP tunnel, and the POST side's base64 body. */
const tunnelHead = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'GET_PARAMETER', 'PUT', 'OPTIONS'),
    path: fc.constantFrom('/stream1', '/', '*', '/stream1?x=1'),
    version: fc.constantFrom('HTTP/1.0', 'HTTP/1.1', 'HTTP/2', 'RTSP/1.0'),
    cookie: fc.option(fc.oneof(token(undefined, 24), fc.string({ maxLength: 140 })), { nil: undefined }),
    accept: fc.option(fc.constantFrom('application/x-rtsp-tunnelled', '*/*', 'text/html', ''), { nil: undefined }),
    extra: fc.array(fc.tuple(token(), token(undefined, 20)), { maxLength: 3 }),
  })
  .map((h) => {
    const lines = [`${h.method} ${h.path} ${h.version}`];
    if (h.cookie !== undefined) lines.push(`x-sessioncookie: ${h.cookie}`);
    if (h.accept !== undefined) lines.push(`Accept: ${h.accept}`);
    for (const [k, v] of h.extra) lines.push(`${k}: ${v}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  });

/** Requests as a tunnelling client sends them: each base64-encoded on its own, lines broken or not. */
const tunnelBody = fc.array(fc.tuple(request, fc.boolean()), { minLength: 1, maxLength: 3 }).map((reqs) => {
  const text = reqs.map(([r, wrap]) => (wrap ? (r.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n') : r.toString('base64'))).join('');
  return { bytes: Buffer.from(text, 'latin1'), meta: Buffer.concat(reqs.map(([r]) => r)) };
});

type Tunnel = { head: Mutated; body: Mutated<Buffer>; cuts: number[] };

export const httpTunnel: FuzzTarget<Tunnel> = {
  name: 'http-tunnel',
  what: 'classifyFirstBytes + Base64Stream (plugin-rtsp http-tunnel.ts): tunnel heads and base64 bodies in chunks; pristine bodies must decode exactly',
  arbitrary: fc.record({ head: mutatedText(tunnelHead), body: mutated(tunnelBody), cuts: chunkCuts }),
  show: (x) => `head ${showBytes(x.head.bytes)} body ${showBytes(x.body.bytes)} cut at ${JSON.stringify(x.cuts)}`,
  run(x) {
    const first = classifyFirstBytes(Buffer.concat([x.head.bytes, x.body.bytes]));
    if (first.kind === 'bad' && !(first.status >= 400 && first.status < 500)) throw new Finding(`status ${first.status}`);
    const b64 = new Base64Stream();
    const out: Buffer[] = [];
    let refused = false;
    for (const c of chunks(x.body.bytes, x.cuts)) {
      const d = b64.push(c);
      if (!d) {
        refused = true;
        break;
      }
      out.push(d);
    }
    if (x.body.pristine) {
      if (refused) throw new Finding('valid base64 refused');
      if (!Buffer.concat(out).equals(x.body.meta)) throw new Finding('decoded bytes differ from what was encoded');
    }
  },
};
