/** Human-readable timestamps: a small, validated pattern language (no arbitrary strftime). */

export const FORMAT_TOKENS = ['YYYY', 'MM', 'DD', 'HH', 'mm', 'ss', 'SSS'] as const;
export const DEFAULT_FORMAT = 'YYYY-MM-DD HH:mm:ss.SSS';
/** Tokens and the separators a timestamp needs; nothing that could break out of the overlay text. */
export const FORMAT_PATTERN = /^(?:YYYY|MM|DD|HH|mm|ss|SSS|[ .:/T_-])+$/;

const TOKENS = /YYYY|MM|DD|HH|mm|ss|SSS/g;

/**
 * The GLib `g_date_time_format` equivalent of a format, for `timeoverlay datetime-format`. GLib has no
 * millisecond specifier: `SSS` becomes `%f`, six digits (milliseconds followed by microseconds), so
 * every millisecond digit is shown and nothing is rounded.
 */
export function glibFormat(format: string): string {
  if (!FORMAT_PATTERN.test(format)) throw new Error(`not a timestamp format: ${JSON.stringify(format)}`);
  const glib = { YYYY: '%Y', MM: '%m', DD: '%d', HH: '%H', mm: '%M', ss: '%S', SSS: '%f' } as const;
  return format.replace(TOKENS, (t) => glib[t as keyof typeof glib]);
}

/** Characters of a formatted timestamp (all fields have a fixed width; `SSS` shows six digits). */
export function formattedLength(format: string): number {
  return format.replace(TOKENS, (t) => (t === 'SSS' ? '000000' : t)).length;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * Formats a wall-clock time (ms since the epoch, fractional) in the daemon's local time zone exactly as
 * the overlay draws it: `SSS` is six digits, milliseconds then microseconds (truncated, not rounded).
 */
export function formatTimestamp(ms: number, format: string): string {
  const us = Math.floor(ms * 1000);
  const d = new Date(Math.floor(us / 1000));
  return format.replace(TOKENS, (t) => {
    switch (t) {
      case 'YYYY':
        return String(d.getFullYear());
      case 'MM':
        return pad(d.getMonth() + 1);
      case 'DD':
        return pad(d.getDate());
      case 'HH':
        return pad(d.getHours());
      case 'mm':
        return pad(d.getMinutes());
      case 'ss':
        return pad(d.getSeconds());
      default:
        return pad(((us % 1_000_000) + 1_000_000) % 1_000_000, 6);
    }
  });
}

/**
 * Reads a timestamp drawn in `format` (e.g. OCR output) back into ms since the epoch (local time zone,
 * µs resolution), or undefined when the text does not match the format.
 */
export function parseTimestamp(text: string, format: string): number | undefined {
  const fields: string[] = [];
  const re = format.replace(/YYYY|MM|DD|HH|mm|ss|SSS|[.]/g, (t) => {
    if (t === '.') return '\\.';
    fields.push(t);
    return t === 'YYYY' ? '(\\d{4})' : t === 'SSS' ? '(\\d{6})' : '(\\d{2})';
  });
  const m = new RegExp(`^${re}$`).exec(text.trim());
  if (!m) return undefined;
  const v: Record<string, number> = { YYYY: 1970, MM: 1, DD: 1, HH: 0, mm: 0, ss: 0, SSS: 0 };
  fields.forEach((f, i) => (v[f] = Number(m[i + 1])));
  return new Date(v.YYYY!, v.MM! - 1, v.DD!, v.HH!, v.mm!, v.ss!).getTime() + v.SSS! / 1000;
}
