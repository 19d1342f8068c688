import { describe, expect, it } from 'vitest';
import { calculateOptimalBitrate, checkStreamHealth, getLatencyMs } from './rules.js';

describe('calculateOptimalBitrate', () => {
  it('follows the per-resolution table at 30 fps scaled by fps/30', () => {
    expect(calculateOptimalBitrate('1920x1080', 30)).toBe(8_000_000);
    expect(calculateOptimalBitrate('1920x1080', 60)).toBe(16_000_000);
    expect(calculateOptimalBitrate('1280x720', 30)).toBe(4_000_000);
    expect(calculateOptimalBitrate('3840x2160', 60)).toBe(24_000_000);
    expect(calculateOptimalBitrate('640x480', 30)).toBe(2_000_000);
  });
  it('scales by whole multiples of 30 fps, integer division (25 fps → factor 0)', () => {
    expect(calculateOptimalBitrate('1920x1080', 25)).toBe(0);
  });
  it('falls back to 4 Mbit/s for unknown sizes', () => {
    expect(calculateOptimalBitrate('800x600', 60)).toBe(4_000_000);
  });
});

describe('getLatencyMs', () => {
  it('maps modes and defaults to 500', () => {
    expect(getLatencyMs('low')).toBe(100);
    expect(getLatencyMs('normal')).toBe(500);
    expect(getLatencyMs('high')).toBe(2000);
    expect(getLatencyMs('bogus')).toBe(500);
  });
});

describe('checkStreamHealth', () => {
  const ok = { frameDrops: 0, errors: 0, currentBitrate: 1_000_000, clientCount: 1 };
  it('is healthy on normal figures', () => {
    expect(checkStreamHealth(ok)).toEqual({ healthy: true, reasons: [] });
  });
  it('flags drops above 100, errors above 10 and stalls with clients', () => {
    expect(checkStreamHealth({ ...ok, frameDrops: 100 }).healthy).toBe(true);
    expect(checkStreamHealth({ ...ok, frameDrops: 101 }).reasons[0]).toMatch(/drop/);
    expect(checkStreamHealth({ ...ok, errors: 11 }).reasons[0]).toMatch(/error/);
    expect(checkStreamHealth({ ...ok, currentBitrate: 0 }).reasons[0]).toMatch(/stalled/);
    expect(checkStreamHealth({ ...ok, currentBitrate: 0, clientCount: 0 }).healthy).toBe(true);
  });
});
