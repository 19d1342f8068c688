import { createHash } from 'node:crypto';
import {
  allows,
  DIGEST_REALM,
  MEDIA_READ,
  NonceManager,
  digestChallenge,
  digestVerdict,
  parseAuthorization,
  type Caller,
  type LoginOutcome,
  type UserStore,
} from '@camd/core';

export type AuthMethod = 'digest' | 'basic';

export type AuthResult = { ok: true; caller: Caller } | { ok: false; status: 401 | 403 | 503; headers: Record<string, string> };

/** What authentication needs of a request and the connection it came on. */
export interface AuthRequest {
  method: string;
  /** The request URL (a Digest response must have been computed for it). */
  url: string;
  authorization: string | undefined;
  /** The peer's address (failed logins are counted per address). */
  address: string | undefined;
  /** The connection's id: Digest nonces are bound to the connection they were issued on. */
  connection: string;
}

/**
 * RTSP authentication with the daemon's users: Digest (RFC 2617, MD5 as RTSP clients use it) and
 * Basic, through the daemon's brute-force guard. Reading a stream needs Media_r or Media_rw.
 *
 * RTSP clients (ffmpeg, GStreamer, OpenCV) send Digest without `qop`, so without the `nc` that makes
 * a replayed header detectable: a nonce is therefore bound to the connection it was challenged on.
 * A captured header fails on any other connection, and the `uri` it was computed for must name what
 * the request asks for, so it opens nothing else either. A client that brings a nonce from an earlier
 * connection hears `stale=TRUE` and may retry with the fresh one without asking its user.
 */
export class RtspAuth {
  private readonly nonces = new NonceManager();

  constructor(
    private readonly users: UserStore,
    private readonly methods: readonly AuthMethod[],
  ) {}

  async check(req: AuthRequest): Promise<AuthResult> {
    const auth = parseAuthorization(req.authorization);
    let outcome: LoginOutcome | undefined;
    if (auth?.scheme === 'digest' && this.methods.includes('digest')) {
      outcome = await this.users.guard.attempt({ address: req.address, username: auth.params.username!, protocol: 'rtsp' }, () =>
        digestVerdict(this.users, this.nonces, auth.params, {
          method: req.method,
          uriMatches: (uri) => digestUriMatches(uri, req.url),
          scope: req.connection,
        }),
      );
    } else if (auth?.scheme === 'basic' && this.methods.includes('basic')) {
      const sameAs = createHash('sha256').update(req.authorization!).digest('base64');
      outcome = await this.users.guard.attempt({ address: req.address, username: auth.username, protocol: 'rtsp', sameAs }, () =>
        this.users.verify(auth.username, auth.password),
      );
    }
    outcome ??= this.users.guard.lockedOut(req.address);
    // RTSP has no 429: 503 with Retry-After (RFC 2326 §12.31) is what it offers for "not now". ffmpeg
    // and GStreamer report "503 Service Unavailable" and stop, instead of re-sending credentials as a
    // 401 would invite, and a locked-out user is not told that the password is wrong.
    if (outcome?.kind === 'refused') return { ok: false, status: 503, headers: { 'Retry-After': String(outcome.retryAfterS) } };
    if (outcome?.kind !== 'ok') return { ok: false, status: 401, headers: this.challenge(req.connection, outcome?.kind === 'stale') };
    if (!allows(outcome.caller, MEDIA_READ)) return { ok: false, status: 403, headers: {} };
    return { ok: true, caller: outcome.caller };
  }

  private challenge(connection: string, stale: boolean): Record<string, string> {
    // Both challenges: RTSP allows one WWW-Authenticate header per scheme; clients pick Digest first.
    const h: Record<string, string> = {};
    const values: string[] = [];
    if (this.methods.includes('digest')) values.push(digestChallenge(DIGEST_REALM, this.nonces.issue(connection), { stale }));
    if (this.methods.includes('basic')) values.push(`Basic realm="${DIGEST_REALM}"`);
    h['WWW-Authenticate'] = values.join('\r\nWWW-Authenticate: ');
    return h;
  }
}

/**
 * Whether the `uri` of a Digest response names what the request asks for. ffmpeg, GStreamer's rtspsrc
 * and OpenCV sign exactly the request URL (the track URL for SETUP, the Content-Base with its trailing
 * `/` for PLAY); the same path is enough here, scheme, host and port and a trailing `/` aside, for
 * clients that write the host another way. A header computed for one stream (or track) does not open
 * another.
 */
export function digestUriMatches(signed: string, requestUrl: string): boolean {
  if (signed === requestUrl) return true;
  const a = pathOf(signed);
  const b = pathOf(requestUrl);
  return a !== undefined && a === b;
}

function pathOf(url: string): string | undefined {
  if (url === '*') return '*';
  try {
    return decodeURIComponent(new URL(url, 'rtsp://x').pathname).replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}
