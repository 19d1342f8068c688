import { describe, expect, it } from 'vitest';
import { SYSTEM, type Caller } from '../auth/permissions.js';
import { StateStore } from './store.js';
import { ValidationError, v } from './validate.js';

const viewer: Caller = { username: 'viewer', permissions: ['Media_r'] };
const admin: Caller = { username: 'admin', permissions: ['Admin'] };

describe('a state key with redact', () => {
  const store = () => {
    const s = new StateStore();
    s.define(
      {
        key: 'secretUrl',
        default: 'rtsp://u:pw@h/x',
        permissionRead: ['Media_r', 'Admin'],
        permissionWrite: ['Admin'],
        validate: v.string(),
        redact: (x) => x.replace(/:[^:@/]*@/, ':***@'),
      },
      'test',
    );
    return s;
  };

  it('shows users the redacted value in get, list and present; the daemon reads the value itself', async () => {
    const s = store();
    expect(s.get('secretUrl', viewer)).toBe('rtsp://u:***@h/x');
    expect(s.get('secretUrl', admin)).toBe('rtsp://u:***@h/x');
    expect(s.list(viewer).find((e) => e.key === 'secretUrl')!.value).toBe('rtsp://u:***@h/x');
    expect(s.get('secretUrl')).toBe('rtsp://u:pw@h/x');
    expect(s.get('secretUrl', SYSTEM)).toBe('rtsp://u:pw@h/x');
    const written = await s.set('secretUrl', 'rtsp://u:new@h/y', admin);
    expect(written).toBe('rtsp://u:new@h/y');
    expect(s.present('secretUrl', written, admin)).toBe('rtsp://u:***@h/y');
  });
});

describe('a rejected value of a key that can hold secrets', () => {
  const secretValue = 'rtsp://pub:hunter2-secret@10.0.0.5:8554/live/KEY';
  const store = (def: { secret?: boolean; redact?: (x: string) => string }) => {
    const s = new StateStore();
    s.define(
      { key: 'target', default: 'srt://h:1', permissionRead: ['Admin'], permissionWrite: ['Admin'], validate: v.string({ pattern: /^srt:/ }), ...def },
      'test',
    );
    return s;
  };
  const refusal = async (s: StateStore, value: unknown) => (await s.set('target', value, admin).catch((e: Error) => e)) as Error;

  it('is described (its kind and size), never quoted, when the key says secret', async () => {
    const err = await refusal(store({ secret: true }), secretValue);
    expect(err.message).toBe(`target: expected string, got a string of ${secretValue.length} characters`);
    expect(err.message).not.toContain('hunter2');
    expect(JSON.stringify(err)).not.toContain('hunter2');
  });

  it('is described when the key has a redact (a key that masks its value holds secrets)', async () => {
    const err = await refusal(store({ redact: (x) => x }), { url: secretValue });
    expect(err.message).toBe('target: expected string, got an object of 1 field');
  });

  it('is still quoted for an ordinary key, where it helps', async () => {
    expect((await refusal(store({}), 'rtsp://h/y')).message).toBe('target: expected string, got "rtsp://h/y"');
  });

  it('never travels with a ValidationError into a log line (the value is not an enumerable field)', () => {
    const err = new ValidationError('k', 'string', secretValue, { quote: false });
    expect(err.message).toBe(`k: expected string, got a string of ${secretValue.length} characters`);
    expect(err.got).toBe(secretValue);
    expect(Object.keys(err)).not.toContain('got');
    expect(JSON.stringify({ ...err })).not.toContain('hunter2');
  });
});
