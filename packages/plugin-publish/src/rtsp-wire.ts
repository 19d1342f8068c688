/**
 * What a publishing RTSP client reads from its server: responses to its requests, interleaved
 * `$`-framed RTCP (RFC 2326 §10.12) once RECORD runs, and now and then a request of the server's own.
 */
export type RtspMessage =
  | { kind: 'response'; status: number; reason: string; headers: RtspHeaders; body: Buffer }
  | { kind: 'request'; method: string; uri: string; headers: RtspHeaders; body: Buffer }
  | { kind: 'interleaved'; channel: number; data: Buffer };

/** Header values by lower-case name (a name may repeat, e.g. `WWW-Authenticate`). */
export type RtspHeaders = ReadonlyMap<string, readonly string[]>;

export function header(h: RtspHeaders, name: string): string | undefined {
  return h.get(name.toLowerCase())?.[0];
}

/** Limits of what a server may send; past them the connection is treated as broken. */
export const MAX_HEAD = 64 * 1024;
export const MAX_BODY = 1024 * 1024;
const MAX_HEADERS = 128;

export class RtspWireError extends Error {}

/** Incremental reader: push chunks from the socket, get whole messages back. Throws `RtspWireError` on garbage. */
export class RtspReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RtspMessage[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: RtspMessage[] = [];
    for (;;) {
      if (this.buf.length === 0) break;
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4) break;
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) break;
        out.push({ kind: 'interleaved', channel: this.buf[1]!, data: this.buf.subarray(4, 4 + len) });
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > MAX_HEAD) throw new RtspWireError(`an RTSP message head longer than ${MAX_HEAD} bytes`);
        break;
      }
      if (end > MAX_HEAD) throw new RtspWireError(`an RTSP message head longer than ${MAX_HEAD} bytes`);
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string[]>();
      if (lines.length - 1 > MAX_HEADERS) throw new RtspWireError(`more than ${MAX_HEADERS} headers`);
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i <= 0) throw new RtspWireError(`a header line without a name: ${JSON.stringify(line.slice(0, 80))}`);
        const name = line.slice(0, i).trim().toLowerCase();
        const list = headers.get(name) ?? [];
        list.push(line.slice(i + 1).trim());
        headers.set(name, list);
      }
      const lengthText = headers.get('content-length')?.[0] ?? '0';
      if (!/^\d{1,8}$/.test(lengthText)) throw new RtspWireError(`Content-Length ${JSON.stringify(lengthText.slice(0, 20))}`);
      const length = Number(lengthText);
      if (length > MAX_BODY) throw new RtspWireError(`a body of ${length} bytes`);
      if (this.buf.length < end + 4 + length) break;
      const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + length));
      this.buf = this.buf.subarray(end + 4 + length);
      const first = lines[0]!;
      const status = /^RTSP\/1\.0 (\d{3})(?: (.*))?$/.exec(first);
      if (status) {
        out.push({ kind: 'response', status: Number(status[1]), reason: status[2] ?? '', headers, body });
        continue;
      }
      const request = /^([A-Z_]{1,32}) (\S+) RTSP\/1\.0$/.exec(first);
      if (!request) throw new RtspWireError(`not an RTSP message: ${JSON.stringify(first.slice(0, 80))}`);
      out.push({ kind: 'request', method: request[1]!, uri: request[2]!, headers, body });
    }
    // Keep no reference to a large chunk once it is consumed.
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return out;
  }
}

/** Frames RTP/RTCP packets for the TCP connection: `$`, channel, length, packet, in one buffer per call. */
export function interleave(channel: number, packets: readonly Buffer[]): Buffer {
  let size = 0;
  for (const p of packets) size += 4 + p.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const p of packets) {
    out[o] = 0x24;
    out[o + 1] = channel;
    out.writeUInt16BE(p.length, o + 2);
    p.copy(out, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** The `Transport` parameters of a SETUP answer that a recorder needs. */
export function parseTransport(value: string | undefined): { interleaved?: [number, number]; serverPort?: [number, number]; ssrc?: string } {
  const out: { interleaved?: [number, number]; serverPort?: [number, number]; ssrc?: string } = {};
  if (!value) return out;
  const pair = (s: string): [number, number] | undefined => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
    if (!m) return undefined;
    const a = Number(m[1]);
    return [a, m[2] !== undefined ? Number(m[2]) : a + 1];
  };
  for (const part of value.split(',')[0]!.split(';')) {
    const [k, v] = part.trim().split('=', 2) as [string, string | undefined];
    if (v === undefined) continue;
    if (k === 'interleaved') out.interleaved = pair(v);
    else if (k === 'server_port') out.serverPort = pair(v);
    else if (k === 'ssrc') out.ssrc = v;
  }
  return out;
}
