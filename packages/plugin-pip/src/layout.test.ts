import { describe, expect, it } from 'vitest';
import { DEFAULT_LAYOUT, layoutValidator, padProperties, pipRect } from './layout.js';

describe('PiP layout', () => {
  it('puts the default inset (0.25, bottom-right) of 1920x1080 at 480x270 at 1440,810', () => {
    expect(pipRect(DEFAULT_LAYOUT, 1920, 1080)).toEqual({ x: 1440, y: 810, width: 480, height: 270 });
  });
  it('puts the inset in each corner', () => {
    expect(pipRect({ pipPosition: 'top-left', pipScale: 0.5 }, 320, 240)).toEqual({ x: 0, y: 0, width: 160, height: 120 });
    expect(pipRect({ pipPosition: 'top-right', pipScale: 0.25 }, 320, 240)).toEqual({ x: 240, y: 0, width: 80, height: 60 });
    expect(pipRect({ pipPosition: 'bottom-left', pipScale: 0.1 }, 1280, 720)).toEqual({ x: 0, y: 648, width: 128, height: 72 });
  });
  it('swaps main and inset by pad properties', () => {
    const p = padProperties({ ...DEFAULT_LAYOUT, mainSource: 'secondary', pipSource: 'primary' }, 1920, 1080);
    expect(p.sink_2).toMatchObject({ xpos: 0, ypos: 0, width: 1920, height: 1080, zorder: 0 });
    expect(p.sink_0).toMatchObject({ xpos: 1440, ypos: 810, width: 480, height: 270, zorder: 2 });
    expect(padProperties({ ...DEFAULT_LAYOUT, pipBorder: false }, 1920, 1080).sink_1.alpha).toBe(0);
  });
  it('validates layouts with the reason', () => {
    expect(layoutValidator.parse(DEFAULT_LAYOUT, 'pipLayout')).toEqual(DEFAULT_LAYOUT);
    expect(() => layoutValidator.parse({ ...DEFAULT_LAYOUT, pipScale: 0.6 }, 'pipLayout')).toThrow(/pipLayout.pipScale: expected number 0.1..0.5/);
    expect(() => layoutValidator.parse({ ...DEFAULT_LAYOUT, pipPosition: 'center' }, 'pipLayout')).toThrow(/pipPosition/);
    expect(() => layoutValidator.parse({ ...DEFAULT_LAYOUT, pipSource: 'primary' }, 'pipLayout')).toThrow(/pipSource: expected a source other than mainSource/);
    expect(() => layoutValidator.parse({ ...DEFAULT_LAYOUT, extra: 1 }, 'pipLayout')).toThrow(/extra: expected a known field/);
  });
});
