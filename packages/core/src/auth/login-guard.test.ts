import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { CoreErrors } from '../errors.js';
import { HashQueue } from './hash-queue.js';
import { LOGIN_GUARD_DEFAULTS, LoginGuard, MAX_TRACKED, type LoginGuardOptions, type LoginVerdict } from './login-guard.js';
import type { Caller } from './permissions.js';

const viewer: Caller = { username: 'viewer', permissions: ['Media_r'] };
const ATTACKER = '127.0.0.1';
const LEGIT = '127.0.0.2';

/** A guard on a clock the test moves, with a check that counts how often it ran. */
function setup(opts: Partial<LoginGuardOptions> = {}) {
  let now = 1_000_000;
  const lines: Array<Record<string, unknown>> = [];
  const guard = new LoginGuard(
    { ...LOGIN_GUARD_DEFAULTS, ...opts },
    new HashQueue(2, 8),
    (n) => n === 'viewer' || n === 'admin',
    () => now,
  );
  guard.log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  let checked = 0;
  const login = (address: string, password: string, username = 'viewer') =>
    guard.attempt({ address, username, protocol: 'test' }, (): LoginVerdict => {
      checked++;
      return password === 'right' && username === 'viewer' ? viewer : undefined;
    });
  return { guard, login, lines, checked: () => checked, advance: (ms: number) => void (now += ms) };
}

describe('LoginGuard', () => {
  it('locks an address out after maxFailures: further attempts, even right ones, are refused without a check until the lockout ends', async () => {
    const t = setup({ backoffAfter: 100 });
    for (let i = 0; i < 10; i++) expect((await t.login(ATTACKER, `guess-${i}`)).kind).toBe('failed');
    expect(t.checked()).toBe(10);
    for (let i = 0; i < 50; i++) expect(await t.login(ATTACKER, i === 49 ? 'right' : `guess-${i}`)).toMatchObject({ kind: 'refused', reason: 'locked' });
    expect(t.checked()).toBe(10);
    expect(await t.login(ATTACKER, 'right')).toMatchObject({ retryAfterS: 900 });
    expect(t.guard.lockedOut(ATTACKER)).toMatchObject({ reason: 'locked' });
    expect(t.guard.stats()).toMatchObject({ checks: 10, failures: 10, lockouts: 1, lockedAddresses: 1, refused: { locked: 52 } });
    t.advance(15 * 60_000);
    expect((await t.login(ATTACKER, 'right')).kind).toBe('ok');
    expect(t.guard.stats().lockedAddresses).toBe(0);
  });

  it('past backoffAfter, the next attempt is checked only after a wait that doubles; earlier ones are refused at once', async () => {
    const t = setup();
    for (let i = 0; i < 3; i++) expect((await t.login(ATTACKER, 'x')).kind).toBe('failed');
    for (const wait of [1000, 2000, 4000, 8000]) {
      expect(await t.login(ATTACKER, 'x')).toMatchObject({ kind: 'refused', reason: 'throttled', retryAfterS: wait / 1000 });
      t.advance(wait - 1);
      expect(await t.login(ATTACKER, 'x')).toMatchObject({ kind: 'refused', reason: 'throttled' });
      t.advance(1);
      expect((await t.login(ATTACKER, 'x')).kind).toBe('failed');
    }
    expect(t.checked()).toBe(7);
  });

  it('a burst of distinct guesses in flight counts as failures to come; identical attempts share one check', async () => {
    const t = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let checks = 0;
    const slow = (address: string, password: string, sameAs?: string) =>
      t.guard.attempt({ address, username: 'viewer', protocol: 'test', sameAs }, async () => {
        checks++;
        await gate;
        return password === 'right' ? viewer : undefined;
      });
    const guesses = Array.from({ length: 20 }, (_, i) => slow(ATTACKER, `guess-${i}`, `guess-${i}`));
    const browser = Array.from({ length: 20 }, () => slow(LEGIT, 'right', 'same-header'));
    release();
    const g = await Promise.all(guesses);
    expect(g.filter((o) => o.kind === 'failed')).toHaveLength(3);
    expect(g.filter((o) => o.kind === 'refused')).toHaveLength(17);
    expect((await Promise.all(browser)).every((o) => o.kind === 'ok')).toBe(true);
    expect(checks).toBe(4);
  });

  it('one address flooding a user name cannot lock that user out from another address', async () => {
    const t = setup({ backoffAfter: 100 });
    for (let i = 0; i < 30; i++) await t.login(ATTACKER, `guess-${i}`);
    expect(t.guard.usersUnderAttack()).toEqual(['viewer']);
    expect(t.guard.lockedOut(ATTACKER)).toBeDefined();
    const before = t.checked();
    expect(await t.login(LEGIT, 'right')).toEqual({ kind: 'ok', caller: viewer });
    expect(t.checked()).toBe(before + 1);
    // Another address that failed for the name under attack waits; for another name it does not.
    expect((await t.login('10.0.0.3', 'typo')).kind).toBe('failed');
    expect(await t.login('10.0.0.3', 'right')).toMatchObject({ kind: 'refused', reason: 'throttled' });
    expect((await t.login('10.0.0.3', 'x', 'admin')).kind).toBe('failed');
    // Once the name's failures leave the window, it is checked again.
    t.advance(5 * 60_000);
    expect((await t.login('10.0.0.3', 'right')).kind).toBe('ok');
  });

  it("a right password for one account does not reset an address's failures for others", async () => {
    const t = setup({ backoffAfter: 100 });
    for (let i = 0; i < 9; i++) await t.login(ATTACKER, 'x', 'admin');
    expect((await t.login(ATTACKER, 'right')).kind).toBe('ok');
    expect((await t.login(ATTACKER, 'x', 'admin')).kind).toBe('failed');
    expect(t.guard.lockedOut(ATTACKER)).toMatchObject({ reason: 'locked' });
  });

  it('a full hash queue is a refusal, not a failure', async () => {
    const t = setup();
    const busy = () => {
      throw new CoreErrors.AUTH_BUSY('busy');
    };
    for (let i = 0; i < 20; i++)
      expect(await t.guard.attempt({ address: ATTACKER, username: 'viewer', protocol: 'test' }, busy)).toMatchObject({ reason: 'busy' });
    expect(t.guard.stats()).toMatchObject({ failures: 0, refused: { busy: 20 } });
    expect((await t.login(ATTACKER, 'right')).kind).toBe('ok');
  });

  it('keeps memory bounded when an attacker rotates user names and addresses; configured users keep their records', async () => {
    const t = setup({ backoffAfter: 1000, maxFailures: 1000 });
    for (let i = 0; i < 9; i++) await t.login(LEGIT, 'x');
    for (let i = 0; i < MAX_TRACKED + 5000; i++) await t.login(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'x', `made-up-${i}`);
    const g = t.guard as unknown as Record<'sources' | 'otherNames' | 'pairs', { size: number }> & { knownNames: Map<string, { times: number[] }> };
    expect(g.sources.size).toBeLessThanOrEqual(MAX_TRACKED);
    expect(g.otherNames.size).toBeLessThanOrEqual(MAX_TRACKED);
    expect(g.pairs.size).toBeLessThanOrEqual(MAX_TRACKED);
    expect(g.knownNames.get('viewer')?.times).toHaveLength(9);
  });

  it('counts an IPv6 source by its /64 and an IPv4-mapped one as its IPv4', async () => {
    const t = setup({ backoffAfter: 100, maxFailures: 4 });
    for (const a of ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', '2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::7']) await t.login(a, 'x');
    expect(t.guard.lockedOut('2001:db8:1:2::1234')).toBeDefined();
    expect(t.guard.lockedOut('2001:db8:1:3::1')).toBeUndefined();
    for (let i = 0; i < 4; i++) await t.login('::ffff:192.0.2.1', 'x', 'admin');
    expect(t.guard.lockouts().map((l) => l.address)).toEqual(['2001:db8:1:2::/64', '192.0.2.1']);
  });

  it('logs a lockout with address and user, never the password, and keeps a flood out of the log', async () => {
    const t = setup({ backoffAfter: 100, maxFailures: 3 });
    for (let i = 0; i < 3; i++) await t.login(ATTACKER, 'hunter2-secret');
    const lockout = t.lines.find((l) => l.msg === 'auth: address locked out after failed logins');
    expect(lockout).toMatchObject({ address: ATTACKER, user: 'viewer', failures: 3, lockedForS: 900 });
    for (let i = 0; i < 2000; i++) await t.login(`10.1.${i >> 8}.${i & 255}`, 'hunter2-secret', `u${i % 7}`);
    expect(t.lines.length).toBeLessThanOrEqual(40);
    expect(JSON.stringify(t.lines)).not.toContain('hunter2');
    t.advance(60_000);
    await t.login('10.9.9.9', 'x', 'nobody');
    expect(t.lines.at(-1)).toMatchObject({ msg: 'auth: login failed', notLogged: expect.any(Number) });
  });

  it('an Admin lifts a lockout: the address is checked again at once', async () => {
    const t = setup({ maxFailures: 3, backoffAfter: 100 });
    for (let i = 0; i < 3; i++) await t.login(ATTACKER, 'x');
    expect(t.guard.lockouts()).toEqual([expect.objectContaining({ address: ATTACKER, lastUser: 'viewer', failures: 3 })]);
    expect(t.guard.lift(ATTACKER)).toBe(true);
    expect(t.guard.lift(ATTACKER)).toBe(false);
    expect((await t.login(ATTACKER, 'right')).kind).toBe('ok');
  });
});

describe('HashQueue', () => {
  it('runs at most `concurrency` at once, lets `maxWaiting` wait, and refuses the rest at once', async () => {
    const q = new HashQueue(2, 3);
    let running = 0;
    let peak = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const task = async () => {
      peak = Math.max(peak, ++running);
      await gate;
      running--;
      return true;
    };
    const results = Array.from({ length: 10 }, () =>
      q.run(task).then(
        () => 'ran',
        (e: Error & { code?: string }) => e.code,
      ),
    );
    expect(q.stats()).toMatchObject({ running: 2, waiting: 3, refused: 5 });
    release();
    expect(await Promise.all(results)).toEqual([...Array(5).fill('ran'), ...Array(5).fill('CAMD_ERR_AUTH_BUSY')]);
    expect(peak).toBe(2);
    expect(q.stats()).toEqual({ running: 0, waiting: 0, done: 5, refused: 5 });
  });
});
