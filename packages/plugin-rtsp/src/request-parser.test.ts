import { describe, expect, it } from 'vitest';
import { formatResponse, LIMITS, RequestParser, type ParsedItem } from './request-parser.js';

const URL = 'rtsp://127.0.0.1:8554/stream1';
const CRLF = '\r\n';

/** Everything a fresh parser makes of `chunks`, pushed one after the other. */
function parse(...chunks: Array<string | Buffer>): ParsedItem[] {
  const p = new RequestParser();
  return chunks.flatMap((c) => p.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1')));
}

const interleaved = (channel: number, data: Buffer) => Buffer.concat([Buffer.from([0x24, channel, data.length >> 8, data.length & 0xff]), data]);
const request = (method: string, url: string, headers: string[], body = '') =>
  `${method} ${url} RTSP/1.0${CRLF}${headers.map((h) => h + CRLF).join('')}${CRLF}${body}`;
const status = (items: ParsedItem[]) => items.map((i) => (i.kind === 'error' ? i.status : i.kind));

describe('RequestParser: requests (RFC 2326 §6)', () => {
  it('reads the request line, headers (names in lower case, values trimmed) and a body of Content-Length bytes', () => {
    const [item, ...rest] = parse(
      request('SET_PARAMETER', URL, ['CSeq: 7', 'Content-Type:text/parameters', 'Session:   abc;timeout=60  ', 'Content-Length: 11'], 'barparam: x'),
    );
    expect(rest).toEqual([]);
    expect(item).toEqual({
      kind: 'request',
      request: {
        method: 'SET_PARAMETER',
        url: URL,
        version: 'RTSP/1.0',
        headers: { cseq: '7', 'content-type': 'text/parameters', session: 'abc;timeout=60', 'content-length': '11' },
        body: Buffer.from('barparam: x'),
      },
    });
  });

  it('splits a header at its first colon, and a repeated header keeps its last value', () => {
    const [item] = parse(request('OPTIONS', '*', ['CSeq: 1', 'X-Url: rtsp://h:1/a', 'x-url: second']));
    expect(item).toMatchObject({ kind: 'request', request: { url: '*', headers: { 'x-url': 'second' } } });
  });

  it('gives the same request whatever the chunks it arrives in, one byte at a time included', () => {
    const text = request('DESCRIBE', URL, ['CSeq: 2', 'Accept: application/sdp', 'Content-Length: 3'], 'abc');
    const whole = parse(text);
    for (let cut = 1; cut < text.length; cut++) expect(parse(text.slice(0, cut), text.slice(cut))).toEqual(whole);
    const p = new RequestParser();
    const bytes = [...Buffer.from(text, 'latin1')].flatMap((b) => p.push(Buffer.from([b])));
    expect(bytes).toEqual(whole);
  });

  it('waits for the whole body', () => {
    const p = new RequestParser();
    expect(p.push(Buffer.from(request('SET_PARAMETER', URL, ['CSeq: 3', 'Content-Length: 10'], '12345')))).toEqual([]);
    expect(p.push(Buffer.from('67890OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n\r\n'))).toMatchObject([
      { kind: 'request', request: { body: Buffer.from('1234567890') } },
      { kind: 'request', request: { method: 'OPTIONS', headers: { cseq: '4' } } },
    ]);
  });

  it('reads pipelined requests in order, and skips blank lines between them', () => {
    const items = parse(`${CRLF}${request('OPTIONS', URL, ['CSeq: 1'])}${CRLF}${CRLF}${request('GET_PARAMETER', URL, ['CSeq: 2'])}`);
    expect(items.map((i) => i.kind === 'request' && `${i.request.method} ${i.request.headers.cseq}`)).toEqual(['OPTIONS 1', 'GET_PARAMETER 2']);
  });

  it('accepts RTSP/2.0 in the request line (the connection answers 505 for it)', () => {
    expect(parse(`OPTIONS * RTSP/2.0${CRLF}CSeq: 1${CRLF}${CRLF}`)).toMatchObject([{ kind: 'request', request: { version: 'RTSP/2.0' } }]);
  });
});

describe('RequestParser: interleaved binary data (RFC 2326 §10.12)', () => {
  it('reads $-frames (channel, 16-bit length, data) between requests', () => {
    const rtcp = Buffer.from([0x80, 201, 0, 1, 1, 2, 3, 4]);
    const items = parse(
      Buffer.concat([
        interleaved(1, rtcp),
        Buffer.from(request('GET_PARAMETER', URL, ['CSeq: 9'])),
        interleaved(3, Buffer.alloc(0)),
        interleaved(255, Buffer.alloc(65535, 7)),
      ]),
    );
    expect(items).toMatchObject([
      { kind: 'interleaved', channel: 1, data: rtcp },
      { kind: 'request', request: { headers: { cseq: '9' } } },
      { kind: 'interleaved', channel: 3, data: Buffer.alloc(0) },
      { kind: 'interleaved', channel: 255 },
    ]);
    expect((items[3] as { data: Buffer }).data.equals(Buffer.alloc(65535, 7))).toBe(true);
  });

  it('waits for a frame split anywhere, its header included', () => {
    const frame = Buffer.concat([interleaved(1, Buffer.from('0123456789')), Buffer.from(request('OPTIONS', '*', ['CSeq: 1']))]);
    const whole = parse(frame);
    expect(status(whole)).toEqual(['interleaved', 'request']);
    for (let cut = 1; cut < frame.length; cut++) expect(parse(frame.subarray(0, cut), frame.subarray(cut))).toEqual(whole);
  });

  it('copies frame data out of the input', () => {
    const input = interleaved(1, Buffer.from('abcd'));
    const [item] = parse(input);
    input.fill(0);
    expect(item).toMatchObject({ data: Buffer.from('abcd') });
  });
});

describe('RequestParser: limits and malformed input', () => {
  it('answers 400 to a malformed request line', () => {
    for (const line of ['garbage', 'OPTIONS', 'OPTIONS *', 'OPTIONS * HTTP/1.1', 'OPTIONS  * RTSP/1.0', 'OPTIONS * RTSP/1.0 extra', 'options * RTSP/1.0']) {
      expect(parse(`${line}${CRLF}CSeq: 1${CRLF}${CRLF}`), line).toEqual([{ kind: 'error', status: 400, reason: 'Bad Request' }]);
    }
  });

  it('answers 400 to a header line without a name or colon, echoing a CSeq seen before it', () => {
    expect(parse(request('OPTIONS', '*', ['CSeq: 5', 'no colon here']))).toEqual([{ kind: 'error', status: 400, reason: 'Bad Request', cseq: '5' }]);
    expect(parse(request('OPTIONS', '*', [': empty name']))).toMatchObject([{ status: 400 }]);
    expect(parse(request('OPTIONS', '*', ['Bad Name: x']))).toMatchObject([{ status: 400 }]);
    // Folded continuation lines (obsolete) are refused too.
    expect(parse(request('OPTIONS', '*', ['CSeq: 5', 'X-A: 1', ' folded']))).toMatchObject([{ status: 400, cseq: '5' }]);
  });

  it('accepts a URL of 2 KiB and answers 414 to a longer one, whether the line arrives whole or in pieces', () => {
    const url = (n: number) => `rtsp://h/${'a'.repeat(n - 9)}`;
    expect(LIMITS.url).toBe(2048);
    expect(parse(request('DESCRIBE', url(2048), ['CSeq: 1']))).toMatchObject([{ kind: 'request', request: { url: url(2048) } }]);
    expect(parse(request('GET_PARAMETER', url(2049), ['CSeq: 1']))).toMatchObject([{ kind: 'error', status: 414 }]);
    // A URL far longer than the limit, before its line ends: answered without waiting for more.
    expect(parse(`DESCRIBE ${url(5000)}`)).toMatchObject([{ kind: 'error', status: 414 }]);
    // A long line that is long for another reason is a bad request.
    expect(parse(`DESCRIBE * RTSP/1.0${'x'.repeat(3000)}`)).toMatchObject([{ kind: 'error', status: 400 }]);
    expect(parse('x'.repeat(3000))).toMatchObject([{ kind: 'error', status: 400 }]);
  });

  it('answers 431 to more than 64 header lines', () => {
    const headers = (n: number) => ['CSeq: 1', ...Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v`)];
    expect(parse(request('OPTIONS', '*', headers(64)))).toMatchObject([{ kind: 'request' }]);
    expect(parse(request('OPTIONS', '*', headers(65)))).toEqual([{ kind: 'error', status: 431, reason: 'Request Header Fields Too Large' }]);
  });

  it('answers 431 to more than 8 KiB of header lines, and to a head that never ends', () => {
    // Header lines with their CRLFs: "CSeq: 1\r\n" (9) + "X-Pad: " (7) + n + CRLF (2).
    const pad = (total: number) => ['CSeq: 1', `X-Pad: ${'p'.repeat(total - 9 - 7 - 2)}`];
    expect(parse(request('OPTIONS', '*', pad(8192)))).toMatchObject([{ kind: 'request' }]);
    expect(parse(request('OPTIONS', '*', pad(8193)))).toMatchObject([{ kind: 'error', status: 431 }]);
    const p = new RequestParser();
    expect(p.push(Buffer.from(`OPTIONS * RTSP/1.0${CRLF}`))).toEqual([]);
    let out: ParsedItem[] = [];
    for (let i = 0; i < 2000 && out.length === 0; i++) out = p.push(Buffer.from(`X-Pad${i}: ${'y'.repeat(10)}${CRLF}`));
    expect(out).toMatchObject([{ kind: 'error', status: 431 }]);
  });

  it('accepts a body of 64 KiB and answers 413 to a larger one as soon as its Content-Length is read', () => {
    const body = 'b'.repeat(65536);
    const [ok] = parse(request('SET_PARAMETER', URL, ['CSeq: 1', `Content-Length: ${body.length}`], body));
    expect(ok?.kind === 'request' && ok.request.body.equals(Buffer.from(body))).toBe(true);
    expect(parse(request('SET_PARAMETER', URL, ['CSeq: 2', 'Content-Length: 65537']))).toEqual([
      { kind: 'error', status: 413, reason: 'Request Entity Too Large', cseq: '2' },
    ]);
  });

  it('answers 400 to a Content-Length that is not a decimal number', () => {
    for (const v of ['-1', '1e3', 'abc', '', '9999999999']) {
      expect(parse(request('SET_PARAMETER', URL, ['CSeq: 3', `Content-Length: ${v}`])), v).toEqual([
        { kind: 'error', status: 400, reason: 'Bad Request', cseq: '3' },
      ]);
    }
  });

  it('stops after an error: what follows is not parsed (the framing is lost)', () => {
    const p = new RequestParser();
    expect(p.push(Buffer.from(`garbage${CRLF}${CRLF}${request('OPTIONS', '*', ['CSeq: 1'])}`))).toMatchObject([{ kind: 'error', status: 400 }]);
    expect(p.push(Buffer.from(request('OPTIONS', '*', ['CSeq: 2'])))).toEqual([]);
  });
});

describe('formatResponse (RFC 2326 §7)', () => {
  it('writes the status line, the headers in the order given (CSeq first), Content-Length of a body, then the body', () => {
    const r = formatResponse(200, { CSeq: '3', Session: 'abc', Missing: undefined, 'Content-Type': 'application/sdp' }, 'v=0\r\n').toString('latin1');
    expect(r).toBe('RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: abc\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n');
  });

  it('gives each status its reason phrase, and a generic one to an unknown status', () => {
    expect(formatResponse(454, { CSeq: 1 }).toString()).toBe('RTSP/1.0 454 Session Not Found\r\nCSeq: 1\r\n\r\n');
    expect(formatResponse(461, {}).toString()).toMatch(/^RTSP\/1\.0 461 Unsupported Transport\r\n/);
    expect(formatResponse(599, {}).toString()).toMatch(/^RTSP\/1\.0 599 Error\r\n/);
  });

  it('carries a binary body byte for byte, announced by Content-Length', () => {
    const r = formatResponse(200, { CSeq: 9 }, Buffer.from([0, 1, 2]));
    const end = r.indexOf('\r\n\r\n');
    expect(r.subarray(end + 4)).toEqual(Buffer.from([0, 1, 2]));
    expect(r.subarray(0, end).toString()).toMatch(/Content-Length: 3$/);
  });
});
