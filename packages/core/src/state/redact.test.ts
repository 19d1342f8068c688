import { describe, expect, it } from 'vitest';
import { SYSTEM, type Caller } from '../auth/permissions.js';
import { StateStore } from './store.js';
import { v } from './validate.js';

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
