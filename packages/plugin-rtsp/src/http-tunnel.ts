import type { Socket } from 'node:net';

/**
 * RTSP over HTTP (Apple's tunnelling, as ffmpeg `-rtsp_transport http`, VLC, live555 and GStreamer
 * `rtsph://` speak it), on the RTSP port: for networks that pass only HTTP. The client opens two
 * connections that share an `x-sessioncookie`: a GET that carries everything the server sends
 * (responses and interleaved RTP), and a POST whose body is the client's RTSP requests in base64.
 */

/** Largest HTTP request head accepted before the tunnel starts. */
const MAX_HEAD = 8192;
const COOKIE = /^[A-Za-z0-9+/=_.-]{1,128}$/;
/** Tunnels waiting for or holding their POST side; more are refused (each is also an RTSP connection). */
export const MAX_TUNNELS = 256;

export type FirstBytes =
  | { kind: 'rtsp' }
  | { kind: 'incomplete' }
  | { kind: 'http'; method: 'GET' | 'POST'; cookie: string; rest: Buffer }
  | { kind: 'bad'; status: number; reason: string };

/** Classifies what a new connection sent first: RTSP, or the head of one side of an HTTP tunnel. */
export function classifyFirstBytes(buf: Buffer): FirstBytes {
  const head = buf.subarray(0, 5).toString('latin1');
  // `GET ` is not `GET_PARAMETER`: the space decides, so a short first chunk waits for more.
  const couldBe = (m: string) => (head.length >= m.length ? head.startsWith(m) : m.startsWith(head));
  if (!couldBe('GET ') && !couldBe('POST ')) return { kind: 'rtsp' };
  if (!head.startsWith('GET ') && !head.startsWith('POST ')) return { kind: 'incomplete' };
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > MAX_HEAD ? { kind: 'bad', status: 431, reason: 'HTTP request head too large' } : { kind: 'incomplete' };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const [method, , version] = lines[0]!.split(' ');
  if ((method !== 'GET' && method !== 'POST') || !/^HTTP\/1\.[01]$/.test(version ?? ''))
    return { kind: 'bad', status: 400, reason: 'not an HTTP/1.x GET or POST' };
  const headers = new Map(
    lines.slice(1).flatMap((l) => {
      const i = l.indexOf(':');
      return i > 0 ? [[l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as [string, string]] : [];
    }),
  );
  const cookie = headers.get('x-sessioncookie');
  if (!cookie || !COOKIE.test(cookie)) return { kind: 'bad', status: 400, reason: 'RTSP over HTTP needs an x-sessioncookie header' };
  if (method === 'GET' && headers.has('accept') && !/application\/x-rtsp-tunnelled|\*\/\*/.test(headers.get('accept')!)) {
    return { kind: 'bad', status: 406, reason: 'this port serves application/x-rtsp-tunnelled' };
  }
  return { kind: 'http', method, cookie, rest: buf.subarray(end + 4) };
}

/** The GET side's answer: after it, the socket carries the RTSP server's output. */
export const TUNNEL_GET_RESPONSE =
  'HTTP/1.0 200 OK\r\nServer: camd\r\nConnection: close\r\nCache-Control: no-store\r\nPragma: no-cache\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n';

export function httpError(socket: Socket, status: number, reason: string): void {
  const text =
    { 400: 'Bad Request', 404: 'Not Found', 406: 'Not Acceptable', 409: 'Conflict', 431: 'Request Header Fields Too Large', 503: 'Service Unavailable' }[
      status
    ] ?? 'Error';
  socket.end(
    `HTTP/1.0 ${status} ${text}\r\nServer: camd\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason) + 1}\r\n\r\n${reason}\n`,
  );
}

/**
 * Decodes a base64 body that arrives in arbitrary pieces: a quartet split across chunks is kept
 * until it is whole; whitespace (some clients break lines) is skipped. Returns undefined on a
 * character that is not base64, after which the tunnel is closed.
 */
export class Base64Stream {
  private carry = '';

  push(chunk: Buffer): Buffer | undefined {
    const text = this.carry + chunk.toString('latin1').replace(/[\r\n\t ]/g, '');
    const whole = text.length - (text.length % 4);
    this.carry = text.slice(whole);
    if (!QUARTETS.test(text.slice(0, whole)) || !/^(?:[A-Za-z0-9+/]{0,3}|[A-Za-z0-9+/]{2}=)$/.test(this.carry)) return undefined;
    // Each request is encoded on its own, so padding may end a quartet mid-stream; Node's decoder
    // stops at the first padding, hence one decode per padded run.
    const out: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < whole; i += 4) {
      if (text[i + 3] !== '=') continue;
      out.push(Buffer.from(text.slice(from, i + 4), 'base64'));
      from = i + 4;
    }
    if (from < whole) out.push(Buffer.from(text.slice(from, whole), 'base64'));
    return Buffer.concat(out);
  }
}

const QUARTETS = /^(?:[A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/]{2}|[A-Za-z0-9+/]=|==))*$/;
