/**
 * Incremental reader of what an RTSP client sends on its TCP connection: requests (RFC 2326 §6) and
 * interleaved binary frames (`$`, channel, length, data; §10.12). Every size is bounded; a violation is
 * reported with the status to answer, after which the connection's framing is lost and it is closed.
 */

const MAX_URL = 2048;

export const LIMITS = Object.freeze({
  /** Longest request line: a URL of the longest length, a method of up to 32 characters, two spaces and the version. */
  requestLine: MAX_URL + 64,
  /** Longest URL (longer: 414). */
  url: MAX_URL,
  /** Most header lines (more: 431). */
  headers: 64,
  /** All header lines together, with their line ends (more: 431). */
  headerBytes: 8192,
  /** Largest body (larger: 413). */
  body: 65536,
});

export interface RtspRequest {
  method: string;
  url: string;
  version: string;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
}

export type ParsedItem =
  | { kind: 'request'; request: RtspRequest }
  | { kind: 'interleaved'; channel: number; data: Buffer }
  | { kind: 'error'; status: number; reason: string; cseq?: string };

/** `METHOD url RTSP/x.y`: what a request line must be (another version is answered 505 later). */
const REQUEST_LINE = /^[A-Z_]{1,32} \S+ RTSP\/\d\.\d$/;

export class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;

  /** Bytes not taken yet: an unfinished request (or interleaved frame), or whole ones its reader held back. */
  get partial(): boolean {
    return this.buf.length > 0;
  }

  /** Adds what arrived; `take()` returns the items, one at a time, so a reader takes only what it can answer. */
  append(chunk: Buffer): void {
    if (this.failed) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** The next whole item, or undefined while it is incomplete (and after an error, which is the last item). */
  take(): ParsedItem | undefined {
    if (this.failed) return undefined;
    const item = this.next();
    if (item?.kind === 'error') {
      this.failed = true;
      this.buf = Buffer.alloc(0);
    }
    return item;
  }

  /** Adds `chunk` and takes every whole item. */
  push(chunk: Buffer): ParsedItem[] {
    this.append(chunk);
    const out: ParsedItem[] = [];
    for (let item = this.take(); item; item = this.take()) out.push(item);
    return out;
  }

  private next(): ParsedItem | undefined {
    // Tolerate stray CRLFs between messages (some clients send them as keep-alives).
    let skip = 0;
    while (skip < this.buf.length && (this.buf[skip] === 0x0d || this.buf[skip] === 0x0a)) skip++;
    if (skip) this.buf = this.buf.subarray(skip);
    if (this.buf.length === 0) return undefined;
    if (this.buf[0] === 0x24) {
      if (this.buf.length < 4) return undefined;
      const len = this.buf.readUInt16BE(2);
      if (this.buf.length < 4 + len) return undefined;
      const item: ParsedItem = { kind: 'interleaved', channel: this.buf[1]!, data: Buffer.from(this.buf.subarray(4, 4 + len)) };
      this.buf = this.buf.subarray(4 + len);
      return item;
    }
    const lineEnd = this.buf.indexOf('\r\n');
    // Without its CRLF yet, the line is at least as long as what arrived (bar a CR at the very end).
    const lineLength = lineEnd >= 0 ? lineEnd : this.buf.length - (this.buf[this.buf.length - 1] === 0x0d ? 1 : 0);
    if (lineLength > LIMITS.requestLine) return this.tooLongLine();
    // The request line is judged as soon as it is whole: a line that is no RTSP request (a mangled
    // version, bytes of another protocol) is answered now, not after a head that may never end.
    if (lineEnd >= 0 && !REQUEST_LINE.test(this.buf.subarray(0, lineEnd).toString('latin1'))) return { kind: 'error', status: 400, reason: 'Bad Request' };
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) {
      // The longest acceptable head (line, headers, blank line) would have ended by now.
      if (this.buf.length >= LIMITS.requestLine + LIMITS.headerBytes + 4) return { kind: 'error', status: 431, reason: 'Request Header Fields Too Large' };
      return undefined;
    }
    const head = this.buf.subarray(0, end).toString('latin1');
    const lines = head.split('\r\n');
    const first = lines.shift()!;
    const m = /^([A-Z_]{1,32}) (\S+) (RTSP\/\d\.\d)$/.exec(first);
    if (!m) return { kind: 'error', status: 400, reason: 'Bad Request' };
    if (m[2]!.length > LIMITS.url) return { kind: 'error', status: 414, reason: 'Request-URI Too Long' };
    if (lines.length > LIMITS.headers || end - lineEnd > LIMITS.headerBytes) return { kind: 'error', status: 431, reason: 'Request Header Fields Too Large' };
    const headers: Record<string, string> = Object.create(null);
    for (const line of lines) {
      const i = line.indexOf(':');
      if (i <= 0 || /[\s]/.test(line.slice(0, i))) return { kind: 'error', status: 400, reason: 'Bad Request', cseq: headers.cseq };
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    let bodyLen = 0;
    if (headers['content-length'] !== undefined) {
      if (!/^\d{1,9}$/.test(headers['content-length'])) return { kind: 'error', status: 400, reason: 'Bad Request', cseq: headers.cseq };
      bodyLen = Number(headers['content-length']);
      if (bodyLen > LIMITS.body) return { kind: 'error', status: 413, reason: 'Request Entity Too Large', cseq: headers.cseq };
    }
    if (this.buf.length < end + 4 + bodyLen) return undefined;
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + bodyLen));
    this.buf = this.buf.subarray(end + 4 + bodyLen);
    return { kind: 'request', request: { method: m[1]!, url: m[2]!, version: m[3]!, headers, body } };
  }

  private tooLongLine(): ParsedItem {
    // A line too long because of its URL is 414; anything else (no method, a long version) is 400.
    const m = /^[A-Z_]{1,32} (\S*)/.exec(this.buf.subarray(0, LIMITS.requestLine + 1).toString('latin1'));
    return m && m[1]!.length > LIMITS.url
      ? { kind: 'error', status: 414, reason: 'Request-URI Too Long' }
      : { kind: 'error', status: 400, reason: 'Bad Request' };
  }
}

export const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  454: 'Session Not Found',
  455: 'Method Not Valid in This State',
  459: 'Aggregate Operation Not Allowed',
  461: 'Unsupported Transport',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'RTSP Version Not Supported',
};

/** Serialises a response. `CSeq` is echoed first, as clients expect. */
export function formatResponse(status: number, headers: Record<string, string | number | undefined>, body?: string | Buffer): Buffer {
  const lines = [`RTSP/1.0 ${status} ${STATUS_TEXT[status] ?? 'Error'}`];
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) lines.push(`${k}: ${v}`);
  const b = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (b.length) lines.push(`Content-Length: ${b.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b]);
}
