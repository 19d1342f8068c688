import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore } from './store.js';
import { streamKeys, streamAlignment } from './keys.js';
import { isCamdError, ErrorCodes } from '../errors.js';
import type { Caller } from '../auth/permissions.js';
import type { StateKeyDefinition } from './types.js';

const viewer: Caller = { username: 'v', permissions: ['Media_r'] };
const operator: Caller = { username: 'o', permissions: ['Media_rw'] };
const admin: Caller = { username: 'a', permissions: ['Admin'] };
const nobody: Caller = { username: 'n', permissions: [] };

const dirs: string[] = [];
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'camd-state-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function storeWithSeedKeys(dir?: string) {
  const s = new StateStore(dir);
  for (const def of Object.values(streamKeys)) s.define(def as StateKeyDefinition<unknown>, 'core');
  s.define(streamAlignment, 'core');
  s.initObservable('rtspPath', { permissionRead: ['Media_r', 'Media_rw'], permissionWrite: [], default: '/stream1', validateType: 'String', owner: 'rtsp' });
  return s;
}

async function rejection(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('StateStore', () => {
  it('has the documented defaults of the stream and alignment keys', () => {
    const s = storeWithSeedKeys();
    expect(s.get('streamResolution')).toBe('1920x1080');
    expect(s.get('streamFramerate')).toBe(60);
    expect(s.get('streamBitrate')).toBe(8_000_000);
    expect(s.get('videoEncoder')).toBe('h264');
    expect(s.get('encoderProfile')).toBe('high');
    expect(s.get('encoderPreset')).toBe('fast');
    expect(s.get('streamAlignment')).toEqual({ enabled: true, method: 'timestamp', maxLatencyMs: 100, syncTolerance: 33 });
  });

  it('checks read and write permissions for every caller', async () => {
    const s = storeWithSeedKeys();
    expect(s.get('streamBitrate', viewer)).toBe(8_000_000);
    expect(() => s.get('streamBitrate', nobody)).toThrow(/may not read/);
    const e = await rejection(s.set('streamBitrate', 4_000_000, viewer));
    expect(isCamdError(e, ErrorCodes.STATE_FORBIDDEN)).toBe(true);
    await s.set('streamBitrate', 4_000_000, operator);
    expect(s.get('streamBitrate')).toBe(4_000_000);
    // An empty permissionWrite ([]) is read-only for everyone, Admin included.
    const ro = await rejection(s.set('rtspPath', '/x', admin));
    expect((ro as Error).message).toMatch(/read-only/);
    expect(s.list(nobody)).toEqual([]);
    expect(s.list(viewer).find((k) => k.key === 'streamBitrate')?.writable).toBe(false);
  });

  it('rejects invalid values with the reason and keeps the old value', async () => {
    const s = storeWithSeedKeys();
    const cases: Array<[string, unknown, RegExp]> = [
      ['streamResolution', '1920x1081', /WxH/],
      ['streamResolution', 'big', /WxH/],
      ['streamFramerate', 60.5, /integer/],
      ['streamFramerate', '60', /integer/],
      ['streamBitrate', -1, /integer/],
      ['videoEncoder', 'vp8', /h264\|h265\|mjpeg/],
      ['encoderProfile', 'extended', /baseline\|main\|high/],
      ['encoderPreset', 'placebo', /ultrafast/],
      ['streamAlignment', { enabled: true, method: 'gps', maxLatencyMs: 1, syncTolerance: 1 }, /method/],
      ['streamAlignment', { enabled: true }, /method/],
    ];
    for (const [key, value, why] of cases) {
      const before = s.get(key);
      const e = await rejection(s.set(key, value, operator));
      expect(isCamdError(e, ErrorCodes.STATE_INVALID), `${key}=${JSON.stringify(value)}`).toBe(true);
      expect((e as Error).message).toMatch(why);
      expect(s.get(key)).toEqual(before);
    }
  });

  it('notifies subscribers of every change, once, with the previous value', async () => {
    const s = storeWithSeedKeys();
    const seen: unknown[] = [];
    const watched: unknown[] = [];
    s.subscribe((c) => seen.push([c.key, c.previous, c.value, c.by]));
    s.watch('streamFramerate', (c) => watched.push(c.value));
    await s.set('streamFramerate', 30, operator);
    await s.set('streamFramerate', 30, operator); // no change, no event
    await s.set('streamBitrate', 1_000_000, operator);
    expect(seen).toEqual([
      ['streamFramerate', 60, 30, 'o'],
      ['streamBitrate', 8_000_000, 1_000_000, 'o'],
    ]);
    expect(watched).toEqual([30]);
  });

  it('persists values and reads them back after a restart', async () => {
    const dir = tempDir();
    const a = storeWithSeedKeys(dir);
    await a.set('streamResolution', '1280x720', operator);
    await a.set('streamAlignment', { enabled: false, method: 'software', maxLatencyMs: 50, syncTolerance: 16 }, operator);
    const b = storeWithSeedKeys(dir);
    expect(b.get('streamResolution')).toBe('1280x720');
    expect(b.get('streamAlignment')).toMatchObject({ method: 'software' });
  });

  it('falls back to the default when a stored value no longer validates', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ streamFramerate: 'sixty' }));
    const s = storeWithSeedKeys(dir);
    expect(s.get('streamFramerate')).toBe(60);
    expect(s.invalidStored).toEqual(['streamFramerate']);
  });

  it('refuses a key defined twice, naming both owners', () => {
    const s = storeWithSeedKeys();
    expect(() => s.define(streamKeys.streamBitrate, 'plugin-x')).toThrow(/core and plugin-x/);
  });

  it('reports an unknown key', () => {
    const s = storeWithSeedKeys();
    expect(() => s.get('nope')).toThrow(/no state key "nope"/);
  });

  it('coalesces concurrent writes and persists the last value', async () => {
    const dir = tempDir();
    const s = storeWithSeedKeys(dir);
    await Promise.all([1, 2, 3, 4, 5].map((i) => s.set('streamBitrate', i * 1_000_000, operator)));
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).streamBitrate).toBe(5_000_000);
  });

  it('setMany: all or nothing (permission, values, constraints over the values as they would be), one event per changed key', async () => {
    const dir = tempDir();
    const s = storeWithSeedKeys(dir);
    // A rule over two keys: at most 30 fps above 1280x720.
    s.constrain({
      owner: 'test',
      keys: ['streamResolution', 'streamFramerate'],
      check: (value) => {
        if ((value('streamResolution') as string) !== '1280x720' && (value('streamFramerate') as number) > 30) throw new Error('too much');
      },
    });
    const seen: string[] = [];
    s.subscribe((c) => seen.push(`${c.key}=${JSON.stringify(c.value)}`));
    await expect(s.set('streamBitrate', 1_000_000, operator)).resolves.toBe(1_000_000); // not constrained
    await expect(s.set('streamFramerate', 50, operator)).rejects.toThrow('too much'); // 1920x1080 still
    await expect(
      s.setMany(
        [
          ['streamResolution', '1280x720'],
          ['rtspPath', '/x'],
        ],
        admin,
      ),
    ).rejects.toMatchObject({ code: ErrorCodes.STATE_FORBIDDEN });
    await expect(
      s.setMany(
        [
          ['streamResolution', '1280x720'],
          ['streamFramerate', 'fast'],
        ],
        operator,
      ),
    ).rejects.toMatchObject({ code: ErrorCodes.STATE_INVALID });
    expect(s.get('streamResolution')).toBe('1920x1080');
    await s.setMany(
      [
        ['streamResolution', '1280x720'],
        ['streamFramerate', 50],
        ['streamBitrate', 1_000_000],
      ],
      operator,
    );
    expect(seen).toEqual(['streamBitrate=1000000', 'streamResolution="1280x720"', 'streamFramerate=50']);
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toMatchObject({ streamResolution: '1280x720', streamFramerate: 50 });
  });
});
