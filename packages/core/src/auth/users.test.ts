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
