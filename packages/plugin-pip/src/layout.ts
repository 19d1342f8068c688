import { v, ValidationError, type Validator } from '@camd/core';

export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
export type SourceRole = 'primary' | 'secondary';

export interface PipLayout {
  mainSource: SourceRole;
  pipSource: SourceRole;
  pipPosition: Corner;
  /** Side of the inset relative to the picture, 0.1..0.5. */
  pipScale: number;
  pipBorder: boolean;
}

export const DEFAULT_LAYOUT: PipLayout = { mainSource: 'primary', pipSource: 'secondary', pipPosition: 'bottom-right', pipScale: 0.25, pipBorder: true };

const shape = v.object({
  mainSource: v.oneOf(['primary', 'secondary'] as const),
  pipSource: v.oneOf(['primary', 'secondary'] as const),
  pipPosition: v.oneOf(['top-left', 'top-right', 'bottom-left', 'bottom-right'] as const),
  pipScale: v.number({ min: 0.1, max: 0.5 }),
  pipBorder: v.bool(),
});

/** The `pipLayout` setting, validated: known roles and corners, scale 0.1..0.5, two different sources. */
export const layoutValidator: Validator<PipLayout> = {
  describe: shape.describe,
  schema: shape.schema,
  parse(value, path) {
    const l = shape.parse(value, path);
    if (l.mainSource === l.pipSource) throw new ValidationError(`${path}.pipSource`, 'a source other than mainSource', l.pipSource);
    return l;
  },
};

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

/** The inset's rectangle in a W×H picture, flush with its corner (default layout: 1920x1080 at 0.25 → 480x270 at 1440,810). */
export function pipRect(layout: Pick<PipLayout, 'pipPosition' | 'pipScale'>, width: number, height: number): Rect {
  const w = even(width * layout.pipScale);
  const h = even(height * layout.pipScale);
  const right = layout.pipPosition.endsWith('right');
  const bottom = layout.pipPosition.startsWith('bottom');
  return { x: right ? width - w : 0, y: bottom ? height - h : 0, width: w, height: h };
}

/** Border thickness: visible on a small picture, not heavy on a large one. */
export function borderWidth(height: number): number {
  return Math.max(2, Math.round(height / 270) * 2);
}

/** The border box: the inset grown by the border, kept inside the picture. */
export function borderRect(r: Rect, b: number, width: number, height: number): Rect {
  const x = Math.max(0, r.x - b);
  const y = Math.max(0, r.y - b);
  return { x, y, width: Math.min(width, r.x + r.width + b) - x, height: Math.min(height, r.y + r.height + b) - y };
}

/** Compositor pad properties for a layout: sink_0 = the primary source, sink_1 = border, sink_2 = the secondary. */
export function padProperties(layout: PipLayout, width: number, height: number): Record<'sink_0' | 'sink_1' | 'sink_2', Record<string, number>> {
  const inset = pipRect(layout, width, height);
  const full = { xpos: 0, ypos: 0, width, height, zorder: 0 };
  const small = { xpos: inset.x, ypos: inset.y, width: inset.width, height: inset.height, zorder: 2 };
  const border = borderRect(inset, borderWidth(height), width, height);
  const primaryIsMain = layout.mainSource === 'primary';
  return {
    sink_0: primaryIsMain ? full : small,
    sink_1: { xpos: border.x, ypos: border.y, width: border.width, height: border.height, zorder: 1, alpha: layout.pipBorder ? 1 : 0 },
    sink_2: primaryIsMain ? small : full,
  };
}
