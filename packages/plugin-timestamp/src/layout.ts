/**
 * Where and how big the timestamp text is drawn. `timeoverlay` renders with `auto-resize=false` (else
 * it scales the font by width/640) and a font size in pixels, so the text size is exactly what this
 * computes: about 1/20 of the picture height, smaller when needed so the whole text fits beside (or,
 * in the top-right corner, below) the time code.
 *
 * Milliseconds (`SSS`, the end of the format) are GLib's `%f`, six digits of microseconds, of which
 * the overlay draws three. timeoverlay (gstbasetextoverlay.c, render_pangocairo in GStreamer 1.22)
 * does two things with a text that does not fit: wider than the picture minus `xpad`, it wraps the
 * text at that width (`wrap-mode=char`: after any character), and taller than the picture minus
 * `ypad`, it cuts the image it renders to that height. So `xpad` makes the line break fall after the
 * third digit (the microseconds go to a second line; the break sits half a character wide of the
 * exact width, so the font's metrics need not be exact), `ypad` cuts the image between the two lines
 * (the gap is a third of the font size), and `deltax`/`deltay` move the first line into its corner.
 * Nothing runs per frame; the overlay even blends a smaller image.
 */
import { codeGeometry } from './timecode.js';
import { endsWithMilliseconds, formattedLength } from './format.js';

export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
export const CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'] as const;

const MIN_FONT_PX = 6;
/** DejaVu Sans Mono's advance, 1233/2048 em: hinting makes it a whole number of pixels. */
const advancePx = (fontPx: number) => Math.round((1233 / 2048) * fontPx);
/** Its line pitch (ascent + descent, 1.164 em), which hinting rounds up. */
const LINE_EM = 1.164;
/** timeoverlay's outline around every glyph: ceil(max(size / 15, 1)) px, half of it on each side. */
const outlinePx = (fontPx: number) => Math.ceil(Math.max(fontPx / 15, 1));

export interface TextLayoutInput {
  width: number;
  height: number;
  format: string;
  corner: Corner;
  /** Requested font size in px; 0 = automatic. */
  size: number;
  /** Whether the time code is drawn (top right). */
  timecode: boolean;
}

/** timeoverlay properties for the text (each can be set while the pipeline plays), and where it lands. */
export interface TextLayout {
  fontPx: number;
  'font-desc': string;
  xpad: number;
  ypad: number;
  deltax: number;
  deltay: number;
  /** Where the text's line starts (its left edge, its top), its width as drawn (cut after `SSS`), and the margin to the picture's edges. */
  x: number;
  y: number;
  textWidth: number;
  margin: number;
}

export function textLayout(i: TextLayoutInput): TextLayout {
  const [vertical, horizontal] = i.corner.split('-') as ['top' | 'bottom', 'left' | 'right'];
  const margin = Math.max(2, Math.round(i.height / 120));
  let top = margin;
  let available = i.width - 2 * margin;
  if (i.timecode && vertical === 'top') {
    const code = codeGeometry(i.width, i.height);
    // Top left: between the left edge and the code. Top right: below the code.
    if (horizontal === 'left') available = code.x - 2 * margin;
    else top = code.y + code.height + margin;
  }
  const chars = formattedLength(i.format);
  const drawnWidth = (px: number) => chars * advancePx(px) + outlinePx(px) + 1;
  let fontPx = Math.max(MIN_FONT_PX, i.size || Math.round(i.height / 20));
  while (fontPx > MIN_FONT_PX && drawnWidth(fontPx) > available) fontPx--;

  const advance = advancePx(fontPx);
  const outline = outlinePx(fontPx);
  const textWidth = drawnWidth(fontPx);
  const lineHeight = Math.ceil(LINE_EM * fontPx) + outline;
  const x = horizontal === 'left' ? margin : Math.max(0, i.width - margin - textWidth);
  const y = vertical === 'top' ? top : Math.max(0, i.height - margin - lineHeight);
  let xpad = 0;
  let ypad = 0;
  if (endsWithMilliseconds(i.format)) {
    // The line breaks where it is wider than width - xpad - outline: half a character after the milliseconds.
    xpad = i.width - outline - (chars * advance + Math.floor(advance / 2));
    // The image starts at the line's highest ink (digits: 0.2 em below the line's top) and is cut
    // below the baseline (0.93 em), above the second line (1.36 em); lower with '/' or '_', which reach below it.
    const cutEm = /[/_]/.test(i.format) ? 1.0 : 0.85;
    ypad = i.height - (Math.ceil(cutEm * fontPx) + Math.ceil(outline / 2));
  }
  return { fontPx, 'font-desc': `Monospace Bold ${fontPx}px`, xpad, ypad, deltax: x - xpad, deltay: y - ypad, x, y, textWidth, margin };
}
