import { createHash, timingSafeEqual } from 'node:crypto';
import { allows, type Caller, type Permission, type UserStore } from '@camd/core';
import { SoapFault, type SoapRequest } from './soap.js';

const TOLERANCE_MS = 5 * 60_000;
const DIGEST_TYPE = 'PasswordDigest';

/**
 * WS-UsernameToken (ONVIF Core 5.12): PasswordDigest = Base64(SHA-1(nonce + created + password)).
 * A token needs a nonce and a Created within ±5 min of the device clock; a nonce is accepted once.
 */
export class UsernameTokenVerifier {
  private readonly seen = new Map<string, number>();

  constructor(private readonly users: UserStore) {}

  async verify(sec: NonNullable<SoapRequest['security']>, now = Date.now()): Promise<Caller> {
    // Credentials that do not authenticate are a 401, as with HTTP Digest (ONVIF Core 5.9.1); a known
    // caller lacking a right stays a 400 NotAuthorized fault (SOAP 1.2 sender fault).
    const refuse = (why: string) => new SoapFault(401, 'env:Sender', 'ter:NotAuthorized', why);
    // Every token carries a nonce and a Created, digest or not: that is what makes a replay detectable.
    if (!sec.nonce || !sec.created) throw refuse('the token needs a Nonce and a Created');
    const created = Date.parse(sec.created);
    if (!Number.isFinite(created) || Math.abs(created - now) > TOLERANCE_MS) throw refuse('Created is outside the allowed window of the device time');
    this.expire(now);
    if (this.seen.has(sec.nonce)) throw refuse('the nonce was already used');
    let caller: Caller | undefined;
    if (sec.passwordType?.endsWith(DIGEST_TYPE) ?? false) {
      const plain = this.users.plaintextPassword(sec.username);
      const expected =
        plain === undefined
          ? undefined
          : createHash('sha1')
              .update(Buffer.concat([Buffer.from(sec.nonce, 'base64'), Buffer.from(sec.created), Buffer.from(plain)]))
              .digest();
      const got = Buffer.from(sec.password, 'base64');
      if (expected && got.length === expected.length && timingSafeEqual(got, expected)) caller = this.users.caller(sec.username);
    } else {
      caller = await this.users.verify(sec.username, sec.password);
    }
    if (!caller) throw refuse('wrong username or password');
    this.seen.set(sec.nonce, created + TOLERANCE_MS);
    return caller;
  }

  private expire(now: number): void {
    if (this.seen.size < 10_000) {
      for (const [n, until] of this.seen) if (until < now - TOLERANCE_MS) this.seen.delete(n);
      return;
    }
    // Bounded memory under a flood: the oldest half goes (their Created is outside the window soon anyway).
    let i = 0;
    for (const n of this.seen.keys()) if (i++ < 5000) this.seen.delete(n);
  }
}

export function require(caller: Caller, perms: readonly Permission[]): void {
  if (!allows(caller, perms)) throw new SoapFault(400, 'env:Sender', 'ter:NotAuthorized', `${caller.username} is not allowed to do this`);
}
