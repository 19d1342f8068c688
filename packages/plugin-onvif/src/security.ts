import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { allows, type Caller, type LoginRefusal, type LoginVerdict, type Permission, type UserStore } from '@camd/core';
import { SoapFault, type SoapRequest } from './soap.js';

const TOLERANCE_MS = 5 * 60_000;
const DIGEST_TYPE = 'PasswordDigest';
/** What an unknown user's PasswordDigest is computed with: the same SHA-1 as a known user's, matching nothing. */
const NOBODY_PASSWORD = randomBytes(24).toString('base64');

/**
 * A SOAP fault for a login the guard refused without checking it: HTTP 429 (locked out, or must wait)
 * or 503 (too many password checks at once), with `Retry-After`. A 401 would invite an NVR to send
 * the same credentials again at once; the reason says why and for how long.
 */
export function refusalFault(r: LoginRefusal): SoapFault {
  return r.reason === 'busy'
    ? new SoapFault(503, 'env:Receiver', 'ter:Action', r.message, r.retryAfterS)
    : new SoapFault(429, 'env:Sender', 'ter:NotAuthorized', r.message, r.retryAfterS);
}

/**
 * WS-UsernameToken (ONVIF Core 5.12): PasswordDigest = Base64(SHA-1(nonce + created + password)).
 * A token needs a nonce and a Created within ±5 min of the device clock; a nonce is accepted once:
 * once as the bytes the digest is computed over, so that a token whose Nonce is spelt differently
 * (a space, a line break, missing padding: base64 decoders skip them) is the same nonce.
 * Every check goes through the daemon's brute-force guard.
 */
export class UsernameTokenVerifier {
  private readonly seen = new Map<string, number>();
  /** Tokens created at or before this were forgotten (see `expire`): refused, never accepted twice. */
  private forgottenUpTo = 0;

  constructor(private readonly users: UserStore) {}

  async verify(sec: NonNullable<SoapRequest['security']>, address: string | undefined, now = Date.now()): Promise<Caller> {
    // Credentials that do not authenticate are a 401, as with HTTP Digest (ONVIF Core 5.9.1); a known
    // caller lacking a right stays a 400 NotAuthorized fault (SOAP 1.2 sender fault).
    const refuse = (why: string) => new SoapFault(401, 'env:Sender', 'ter:NotAuthorized', why);
    // Every token carries a nonce and a Created, digest or not: that is what makes a replay detectable.
    const nonce = sec.nonce ? Buffer.from(sec.nonce, 'base64') : undefined;
    if (!nonce?.length || !sec.created) throw refuse('the token needs a Nonce and a Created');
    const created = Date.parse(sec.created);
    if (!Number.isFinite(created) || Math.abs(created - now) > TOLERANCE_MS || created <= this.forgottenUpTo)
      throw refuse('Created is outside the allowed window of the device time');
    this.expire(now);
    const key = nonce.toString('base64');
    if (this.seen.has(key)) throw refuse('the nonce was already used');
    const digest = sec.passwordType?.endsWith(DIGEST_TYPE) ?? false;
    const outcome = await this.users.guard.attempt(
      {
        address,
        username: sec.username,
        protocol: 'onvif',
        sameAs: digest ? undefined : createHash('sha256').update(`${sec.username}\0${sec.password}`).digest('base64'),
      },
      () => (digest ? this.digestCaller(sec, nonce) : this.users.verify(sec.username, sec.password)),
    );
    if (outcome.kind === 'refused') throw refusalFault(outcome);
    if (outcome.kind !== 'ok') throw refuse('wrong username or password');
    // Two requests with one nonce may both have waited for a PasswordText hash: the first one wins.
    if (this.seen.has(key)) throw refuse('the nonce was already used');
    this.seen.set(key, created + TOLERANCE_MS);
    return outcome.caller;
  }

  private digestCaller(sec: NonNullable<SoapRequest['security']>, nonce: Buffer): LoginVerdict {
    const plain = this.users.plaintextPassword(sec.username);
    const expected = createHash('sha1')
      .update(Buffer.concat([nonce, Buffer.from(sec.created!), Buffer.from(plain ?? NOBODY_PASSWORD)]))
      .digest();
    const got = Buffer.from(sec.password, 'base64');
    const right = got.length === expected.length && timingSafeEqual(got, expected);
    return right && plain !== undefined ? this.users.caller(sec.username) : undefined;
  }

  private expire(now: number): void {
    if (this.seen.size < 10_000) {
      for (const [n, until] of this.seen) if (until < now - TOLERANCE_MS) this.seen.delete(n);
      return;
    }
    // Bounded memory (only accepted tokens get here): the oldest half goes, and tokens created as early
    // as the newest of them are refused from now on, so forgetting never lets one in twice.
    let i = 0;
    for (const [n, until] of this.seen) {
      if (i++ >= 5000) break;
      this.seen.delete(n);
      this.forgottenUpTo = Math.max(this.forgottenUpTo, until - TOLERANCE_MS);
    }
  }
}

export function require(caller: Caller, perms: readonly Permission[]): void {
  if (!allows(caller, perms)) throw new SoapFault(400, 'env:Sender', 'ter:NotAuthorized', `${caller.username} is not allowed to do this`);
}
