/**
 * Where and how big the timestamp text is drawn. `timeoverlay` renders with `auto-resize=false` (else
 * it scales the font by width/640) and a font size in pixels, so the text size is exactly what this
 * computes: about 1/20 of the picture height, smaller when needed so the whole text fits beside (or,
 * in the top-right corner, below) the time code.
 */
import { codeGeometry, textWidth } from './timecode.js';
import { formattedLength } from './format.js';

export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';
export const CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right'] as const;

const MIN_FONT_PX = 6;

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

/** timeoverlay properties for the text; every value can be set while the pipeline plays. */
export interface TextLayout {
  fontPx: number;
  'font-desc': string;
  halignment: 'left' | 'right';
  valignment: 'top' | 'bottom';
  xpad: number;
  ypad: number;
}

export function textLayout(i: TextLayoutInput): TextLayout {
  const [valignment, halignment] = i.corner.split('-') as ['top' | 'bottom', 'left' | 'right'];
  const margin = Math.max(2, Math.round(i.height / 120));
  let ypad = margin;
  let available = i.width - 2 * margin;
  if (i.timecode && valignment === 'top') {
    const code = codeGeometry(i.width, i.height);
    // Top left: between the left edge and the code. Top right: below the code.
    if (halignment === 'left') available = code.x - 2 * margin;
    else ypad = code.y + code.height + margin;
  }
  const chars = formattedLength(i.format);
  let fontPx = Math.max(MIN_FONT_PX, i.size || Math.round(i.height / 20));
  while (fontPx > MIN_FONT_PX && textWidth(chars, fontPx) > available) fontPx--;
  return { fontPx, 'font-desc': `Monospace Bold ${fontPx}px`, halignment, valignment, xpad: margin, ypad };
}
