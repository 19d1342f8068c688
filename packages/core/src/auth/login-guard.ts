import type { Logger } from 'pino';
import { isCamdError } from '../errors.js';
import { BoundedMap, RecentFailures, sourceKey } from './failure-records.js';
import type { HashQueue, HashQueueStats } from './hash-queue.js';
import type { Caller } from './permissions.js';

/** The config's `auth` block: brute-force protection and the password hashing queue. */
export interface LoginGuardOptions {
  /** Failures within `failureWindowMs` that lock a source address out (default 10). */
  maxFailures: number;
  /** The window failures are counted in (default 5 min). */
  failureWindowMs: number;
  /** How long a locked-out address is refused (default 15 min). */
  lockoutMs: number;
  /** Failures of an address before its next attempt has to wait (default 3). */
  backoffAfter: number;
  /** The first wait; it doubles with every further failure (default 1 s) … */
  backoffInitialMs: number;
  /** … up to this (default 60 s). */
  backoffMaxMs: number;
  /** Password hashes (scrypt) that run at once (default 2 of libuv's 4 threads). */
  hashConcurrency: number;
  /** Password hashes that may wait for those; a check beyond is refused at once (default 8). */
  hashQueue: number;
}

export const LOGIN_GUARD_DEFAULTS: Readonly<LoginGuardOptions> = Object.freeze({
  maxFailures: 10,
  failureWindowMs: 5 * 60_000,
  lockoutMs: 15 * 60_000,
  backoffAfter: 3,
  backoffInitialMs: 1000,
  backoffMaxMs: 60_000,
  hashConcurrency: 2,
  hashQueue: 8,
});

/** Addresses, made-up user names and (user, address) pairs each kept at most this many. */
export const MAX_TRACKED = 10_000;

/** What a check of credentials says: the caller, `stale` (right, but on an old or foreign nonce), or nothing (wrong). */
export type LoginVerdict = Caller | 'stale' | undefined;

export type RefusalReason = 'locked' | 'throttled' | 'busy';

export type LoginOutcome =
  | { kind: 'ok'; caller: Caller }
  | { kind: 'stale' }
  | { kind: 'failed' }
  | { kind: 'refused'; reason: RefusalReason; retryAfterS: number; message: string };

export type LoginRefusal = Extract<LoginOutcome, { kind: 'refused' }>;

export interface LoginAttempt {
  /** The peer's address as the socket reports it. */
  address: string | undefined;
  username: string;
  /** For the log: `http`, `rtsp`, `onvif`. */
  protocol: string;
  /**
   * Identical attempts in flight share one check and one count (a browser's burst with the same Basic
   * header): a digest of the credentials, never the password itself.
   */
  sameAs?: string;
}

interface SourceRecord {
  readonly key: string;
  readonly failures: RecentFailures;
  nextAttemptAt: number;
  lockedUntil: number;
  /** The user name of the failure that locked it (for the Admin's listing and the log). */
  lastUser: string;
  /** Checks in flight by `sameAs`: their count is what the source may not exceed past `backoffAfter`. */
  readonly inflight: Map<string, Promise<LoginOutcome>>;
}

export interface LockoutView {
  address: string;
  until: string;
  failures: number;
  lastUser: string;
}

export interface LoginGuardStats {
  /** Credentials checked (after admission; a shared check counts once). */
  checks: number;
  failures: number;
  refused: Record<RefusalReason, number>;
  lockouts: number;
  lockedAddresses: number;
  usersUnderAttack: number;
  hashing: HashQueueStats;
}

/**
 * Brute-force protection for every login over the network (HTTP Basic/Digest, RTSP, ONVIF
 * WS-Security), ETSI EN 303 645 provision 5.1-5. Failures are counted per source address, per user
 * name, and per (user name, address):
 *
 * - An address's first `backoffAfter` failures cost nothing more. After that its next attempt is
 *   checked only once a wait has passed that doubles with each failure; at `maxFailures` within the
 *   window it is locked out for `lockoutMs`. Until then, every attempt from it is refused **without a
 *   check**: no hash, no comparison, so nothing is learnt and nothing is spent. The wait is not a
 *   timer held per attempt: an early attempt is answered at once, "retry after".
 * - A user name that collects `maxFailures` within the window (from any addresses) is "under attack":
 *   an address that failed for it within the window is then not checked again for that name. An
 *   address without failures for it is checked as always, so an attacker cannot lock the user out
 *   from elsewhere; a distributed guesser gets one guess per address per window.
 * - A success clears the (user, address) record only: a right password for one account does not
 *   reset what an address has failed for others.
 *
 * Memory is bounded: addresses, made-up user names and pairs are kept in `MAX_TRACKED`-entry maps
 * (oldest out first); configured users' records are kept apart so that names an attacker makes up
 * cannot push them out.
 */
export class LoginGuard {
  private readonly sources = new BoundedMap<string, SourceRecord>(MAX_TRACKED);
  private readonly knownNames = new Map<string, RecentFailures>();
  private readonly otherNames = new BoundedMap<string, RecentFailures>(MAX_TRACKED);
  private readonly pairs = new BoundedMap<string, RecentFailures>(MAX_TRACKED);
  private readonly locked = new Set<SourceRecord>();
  private readonly counts = { checks: 0, failures: 0, lockouts: 0, refused: { locked: 0, throttled: 0, busy: 0 } };
  private readonly logBudget = new LogBudget(20, 60_000);
  private unique = 0;
  log?: Logger;

  constructor(
    readonly options: LoginGuardOptions,
    private readonly hashing: HashQueue,
    private readonly isKnownUser: (name: string) => boolean,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Admits an attempt, runs `check` (the password or digest comparison), and counts what it says.
   * A refused attempt runs nothing. `check` may throw `CAMD_ERR_AUTH_BUSY` (the hash queue is full):
   * a refusal that counts as no failure.
   */
  async attempt(a: LoginAttempt, check: () => LoginVerdict | Promise<LoginVerdict>): Promise<LoginOutcome> {
    const now = this.clock();
    const source = this.source(a.address);
    const same = a.sameAs === undefined ? undefined : source.inflight.get(a.sameAs);
    if (same) return same;
    const refusal = this.admission(source, a.username, now);
    if (refusal) {
      this.counts.refused[refusal.reason]++;
      return refusal;
    }
    this.counts.checks++;
    const key = a.sameAs ?? `\0${this.unique++}`;
    const outcome = this.run(a, source, check);
    source.inflight.set(key, outcome);
    void outcome.finally(() => source.inflight.delete(key)).catch(() => undefined);
    return outcome;
  }

  /** The refusal for a locked-out address, whatever it asks (a request without credentials too). */
  lockedOut(address: string | undefined): LoginRefusal | undefined {
    const s = this.sources.peek(sourceKey(address));
    const now = this.clock();
    if (!s || s.lockedUntil <= now) return undefined;
    this.counts.refused.locked++;
    return this.refusal('locked', s.lockedUntil - now);
  }

  /** Lifts an address's lockout and forgets its failures (an Admin's `DELETE /api/auth/lockouts/:address`). */
  lift(address: string): boolean {
    const key = sourceKey(address);
    const s = this.sources.peek(key);
    const now = this.clock();
    let found = false;
    if (s) {
      found = s.lockedUntil > now || s.failures.count(now, this.options.failureWindowMs) > 0;
      s.lockedUntil = 0;
      s.nextAttemptAt = 0;
      s.failures.times.length = 0;
      this.locked.delete(s);
    }
    for (const [k] of [...this.pairs.entries()]) {
      if (k.endsWith(`\0${key}`)) found = this.pairs.delete(k) || found;
    }
    if (found) this.log?.warn({ address: key }, 'auth: lockout lifted');
    return found;
  }

  /** Addresses locked out now. */
  lockouts(): LockoutView[] {
    const now = this.clock();
    const out: LockoutView[] = [];
    for (const s of this.locked) {
      if (s.lockedUntil <= now) this.locked.delete(s);
      else
        out.push({
          address: s.key,
          until: new Date(s.lockedUntil).toISOString(),
          failures: s.failures.count(now, this.options.failureWindowMs),
          lastUser: s.lastUser,
        });
    }
    return out;
  }

  /** User names with `maxFailures` failures within the window now. */
  usersUnderAttack(): string[] {
    const now = this.clock();
    const out: string[] = [];
    for (const [name, f] of [...this.knownNames.entries(), ...this.otherNames.entries()]) {
      if (f.count(now, this.options.failureWindowMs) >= this.options.maxFailures) out.push(name);
    }
    return out;
  }

  stats(): LoginGuardStats {
    return {
      checks: this.counts.checks,
      failures: this.counts.failures,
      refused: { ...this.counts.refused },
      lockouts: this.counts.lockouts,
      lockedAddresses: this.lockouts().length,
      usersUnderAttack: this.usersUnderAttack().length,
      hashing: this.hashing.stats(),
    };
  }

  private source(address: string | undefined): SourceRecord {
    const key = sourceKey(address);
    let s = this.sources.get(key);
    if (!s) {
      s = { key, failures: new RecentFailures(), nextAttemptAt: 0, lockedUntil: 0, lastUser: '', inflight: new Map() };
      this.sources.set(key, s);
    }
    return s;
  }

  private names(name: string): BoundedMap<string, RecentFailures> | Map<string, RecentFailures> {
    return this.isKnownUser(name) ? this.knownNames : this.otherNames;
  }

  private admission(s: SourceRecord, username: string, now: number): LoginRefusal | undefined {
    const o = this.options;
    if (s.lockedUntil > now) return this.refusal('locked', s.lockedUntil - now);
    const failed = s.failures.count(now, o.failureWindowMs);
    // Checks in flight count as failures to come: a burst of distinct guesses is not a way past the wait.
    if (failed + s.inflight.size >= o.backoffAfter && (s.inflight.size > 0 || now < s.nextAttemptAt)) {
      return this.refusal('throttled', Math.max(s.nextAttemptAt - now, 1000));
    }
    const pair = this.pairs.peek(`${username}\0${s.key}`);
    const name = this.names(username).get(username);
    if (pair && name && pair.count(now, o.failureWindowMs) > 0 && name.count(now, o.failureWindowMs) >= o.maxFailures) {
      // Under attack, for this name, from an address that failed for it: it waits until either ends.
      const pairEnds = pair.times.at(-1)! + o.failureWindowMs;
      const nameEnds = name.times[name.times.length - o.maxFailures]! + o.failureWindowMs;
      return this.refusal('throttled', Math.min(pairEnds, nameEnds) - now);
    }
    return undefined;
  }

  private async run(a: LoginAttempt, s: SourceRecord, check: () => LoginVerdict | Promise<LoginVerdict>): Promise<LoginOutcome> {
    let verdict: LoginVerdict;
    try {
      verdict = await check();
    } catch (err) {
      if (!isCamdError(err, 'CAMD_ERR_AUTH_BUSY')) throw err;
      this.counts.refused.busy++;
      return { kind: 'refused', reason: 'busy', retryAfterS: 1, message: err.message };
    }
    if (verdict === 'stale') return { kind: 'stale' };
    if (verdict) {
      this.pairs.delete(`${a.username}\0${s.key}`);
      return { kind: 'ok', caller: verdict };
    }
    this.failed(a, s);
    return { kind: 'failed' };
  }

  private failed(a: LoginAttempt, s: SourceRecord): void {
    const o = this.options;
    const now = this.clock();
    this.counts.failures++;
    s.lastUser = a.username;
    const n = s.failures.add(now, o.maxFailures);
    const names = this.names(a.username);
    let name = names.get(a.username);
    if (!name) names.set(a.username, (name = new RecentFailures()));
    const pairKey = `${a.username}\0${s.key}`;
    let pair = this.pairs.get(pairKey);
    if (!pair) this.pairs.set(pairKey, (pair = new RecentFailures()));
    pair.add(now, o.maxFailures);
    const before = name.count(now, o.failureWindowMs);
    name.add(now, o.maxFailures);
    const user = a.username.slice(0, 64);
    if (n >= o.maxFailures) {
      s.lockedUntil = now + o.lockoutMs;
      this.locked.add(s);
      this.counts.lockouts++;
      this.say(
        'lockout',
        { address: s.key, user, protocol: a.protocol, failures: n, lockedForS: Math.round(o.lockoutMs / 1000) },
        'auth: address locked out after failed logins',
      );
    } else {
      if (n >= o.backoffAfter) s.nextAttemptAt = now + Math.min(o.backoffInitialMs * 2 ** (n - o.backoffAfter), o.backoffMaxMs);
      this.say('failure', { address: s.key, user, protocol: a.protocol, failures: n }, 'auth: login failed');
    }
    if (before === o.maxFailures - 1) {
      this.say(
        'lockout',
        { user, failures: o.maxFailures, windowS: Math.round(o.failureWindowMs / 1000) },
        'auth: user name under attack: addresses that failed for it wait',
      );
    }
  }

  private refusal(reason: RefusalReason, waitMs: number): LoginRefusal {
    const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
    const message =
      reason === 'locked'
        ? `too many failed logins from this address: locked out for ${retryAfterS} s`
        : `too many failed logins: the next attempt is checked in ${retryAfterS} s`;
    return { kind: 'refused', reason, retryAfterS, message };
  }

  /** Logs within a budget, so that a flood of failures does not flood the log; the next line says how many were left out. */
  private say(kind: 'failure' | 'lockout', fields: Record<string, unknown>, msg: string): void {
    const skipped = this.logBudget.take(kind, this.clock());
    if (skipped === false || !this.log) return;
    this.log.warn(skipped > 0 ? { ...fields, notLogged: skipped } : fields, msg);
  }
}

/** At most `lines` log lines per kind per `periodMs`; counts the ones left out. */
class LogBudget {
  private readonly state = new Map<string, { start: number; used: number; skipped: number }>();

  constructor(
    private readonly lines: number,
    private readonly periodMs: number,
  ) {}

  /** False to stay quiet; else how many lines were left out since the last one logged. */
  take(kind: string, now: number): number | false {
    let s = this.state.get(kind);
    if (!s || now - s.start >= this.periodMs) {
      const skipped = s?.skipped ?? 0;
      this.state.set(kind, (s = { start: now, used: 1, skipped: 0 }));
      return skipped;
    }
    if (s.used >= this.lines) {
      s.skipped++;
      return false;
    }
    s.used++;
    const skipped = s.skipped;
    s.skipped = 0;
    return skipped;
  }
}
