import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserStore } from './users.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('UserStore', () => {
  it('keeps what WS-Security digest needs across restarts, sealed: never the password in clear on disk', async () => {
    dir = mkdtempSync(join(tmpdir(), 'camd-users-'));
    let announced = '';
    const first = await UserStore.open({ stateDir: dir, announce: (_u, p) => (announced = p) });
    expect(first.plaintextPassword('admin')).toBe(announced);
    await first.create('nvr', 'nvr-password-1', ['Media_r']);

    const again = await UserStore.open({ stateDir: dir, announce: () => expect.fail('no second admin') });
    expect(again.plaintextPassword('admin')).toBe(announced);
    expect(again.plaintextPassword('nvr')).toBe('nvr-password-1');
    const onDisk = readFileSync(join(dir, 'users.json'), 'utf8');
    expect(onDisk).not.toContain(announced);
    expect(onDisk).not.toContain('nvr-password-1');
    expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);

    // Another key (the users file copied to another device) opens nothing: digest login fails there.
    rmSync(join(dir, 'secret.key'));
    const moved = await UserStore.open({ stateDir: dir });
    expect(moved.plaintextPassword('nvr')).toBeUndefined();
    expect(await moved.verify('nvr', 'nvr-password-1')).toMatchObject({ username: 'nvr' });
  });

  it('a burst of logins with the same and with wrong credentials: each gets its own right answer', async () => {
    const store = await UserStore.open({ configUsers: [{ username: 'dash', password: 'dash-password-1', permissions: ['Media_r'] }] });
    const right = Array.from({ length: 50 }, () => store.verify('dash', 'dash-password-1'));
    const wrong = Array.from({ length: 50 }, () => store.verify('dash', 'dash-password-2'));
    expect((await Promise.all(right)).every((c) => c?.username === 'dash')).toBe(true);
    expect((await Promise.all(wrong)).every((c) => c === undefined)).toBe(true);
    // Refused once, still refused; accepted once, still accepted (from the cache).
    expect(await store.verify('dash', 'dash-password-2')).toBeUndefined();
    expect((await store.verify('dash', 'dash-password-1'))?.username).toBe('dash');
  });
});

describe('UserStore password checks on a bounded queue', () => {
  it('an unknown user costs what a known one does: one scrypt on the same queue, and the same refusal when it is full', async () => {
    const store = await UserStore.open({
      configUsers: [{ username: 'dash', password: 'dash-password-1', permissions: ['Media_r'] }],
      auth: { hashConcurrency: 1, hashQueue: 1 },
    });
    const hashes = () => store.guard.stats().hashing.done;
    expect(await store.verify('ghost', 'whatever')).toBeUndefined();
    expect(await store.verify('dash', 'wrong')).toBeUndefined();
    expect(hashes()).toBe(2);
    // One runs, one waits, the third is refused at once without hashing — known name or not.
    const running = store.verify('dash', 'guess-1');
    const waiting = store.verify('ghost', 'guess-2');
    await expect(store.verify('ghost', 'guess-3')).rejects.toMatchObject({ code: 'CAMD_ERR_AUTH_BUSY', statusCode: 503 });
    await expect(store.verify('dash', 'guess-4')).rejects.toMatchObject({ code: 'CAMD_ERR_AUTH_BUSY' });
    expect(await Promise.all([running, waiting])).toEqual([undefined, undefined]);
    expect(store.guard.stats().hashing).toEqual({ running: 0, waiting: 0, done: 4, refused: 2 });
  });
});
