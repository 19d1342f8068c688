import { allows, DIGEST_REALM, MEDIA_READ, NonceManager, digestCaller, digestChallenge, parseAuthorization, type Caller, type UserStore } from '@camd/core';

export type AuthMethod = 'digest' | 'basic';

export type AuthResult = { ok: true; caller: Caller } | { ok: false; status: 401 | 403; headers: Record<string, string>; failed: boolean };

/**
 * RTSP authentication with the daemon's users: Digest (RFC 2617, MD5 as RTSP clients use it) and
 * Basic. Reading a stream needs Media_r or Media_rw.
 */
export class RtspAuth {
  private readonly nonces = new NonceManager();

  constructor(
    private readonly users: UserStore,
    private readonly methods: readonly AuthMethod[],
  ) {}

  async check(method: string, header: string | undefined): Promise<AuthResult> {
    const auth = parseAuthorization(header);
    let caller: Caller | undefined;
    let stale = false;
    if (auth?.scheme === 'digest' && this.methods.includes('digest')) {
      ({ caller, stale } = digestCaller(this.users, this.nonces, method, auth.params));
    } else if (auth?.scheme === 'basic' && this.methods.includes('basic')) {
      caller = await this.users.verify(auth.username, auth.password);
    }
    if (!caller) return { ok: false, status: 401, headers: this.challenge(stale), failed: header !== undefined && !stale };
    if (!allows(caller, MEDIA_READ)) return { ok: false, status: 403, headers: {}, failed: false };
    return { ok: true, caller };
  }

  private challenge(stale: boolean): Record<string, string> {
    // Both challenges: RTSP allows one WWW-Authenticate header per scheme; clients pick Digest first.
    const h: Record<string, string> = {};
    const values: string[] = [];
    if (this.methods.includes('digest')) values.push(digestChallenge(DIGEST_REALM, this.nonces.issue(), { stale }));
    if (this.methods.includes('basic')) values.push(`Basic realm="${DIGEST_REALM}"`);
    h['WWW-Authenticate'] = values.join('\r\nWWW-Authenticate: ');
    return h;
  }
}
