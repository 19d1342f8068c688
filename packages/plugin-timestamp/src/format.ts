/** Human-readable timestamps: a small, validated pattern language (no arbitrary strftime). */

export const FORMAT_TOKENS = ['YYYY', 'MM', 'DD', 'HH', 'mm', 'ss', 'SSSSSS', 'SSS'] as const;
export const DEFAULT_FORMAT = 'YYYY-MM-DD HH:mm:ss.SSS';
/**
 * Tokens and the separators a timestamp needs; nothing that could break out of the overlay text.
 * `SSS` (milliseconds) ends the format: the overlay draws it by cutting the text after it (see
 * glibFormat); `SSSSSS` (microseconds) may stand anywhere.
 */
export const FORMAT_PATTERN = /^(?:(?:YYYY|MM|DD|HH|mm|ss|SSSSSS|[ .:/T_-])+(?:SSS)?|SSS)$/;
export const FORMAT_DESCRIPTION = 'pattern of YYYY MM DD HH mm ss SSSSSS (µs) and separators " .:/T_-", optionally ending with SSS (ms)';

const TOKENS = /YYYY|MM|DD|HH|mm|ss|SSSSSS|SSS/g;

const check = (format: string) => {
  if (!FORMAT_PATTERN.test(format)) throw new Error(`not a timestamp format: ${JSON.stringify(format)}`);
};

/**
 * The GLib `g_date_time_format` equivalent of a format, for `timeoverlay datetime-format`. GLib (2.74
 * here) has no millisecond specifier, only `%f`, six digits of microseconds: `SSSSSS` is `%f`, and so
 * is `SSS`, whose last three digits the overlay does not draw (layout.ts: the line breaks after the
 * milliseconds and the image is cut below it, so they are truncated, never rounded).
 */
export function glibFormat(format: string): string {
  check(format);
  const glib = { YYYY: '%Y', MM: '%m', DD: '%d', HH: '%H', mm: '%M', ss: '%S', SSSSSS: '%f', SSS: '%f' } as const;
  return format.replace(TOKENS, (t) => glib[t as keyof typeof glib]);
}

/** Characters of a formatted timestamp as drawn (all fields have a fixed width). */
export function formattedLength(format: string): number {
  return format.replace(TOKENS, (t) => (t === 'SSSSSS' ? '000000' : t)).length;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * Formats a wall-clock time (ms since the epoch, fractional) in the daemon's local time zone exactly as
 * the overlay draws it: `SSS` milliseconds, `SSSSSS` microseconds, both truncated, not rounded.
 */
export function formatTimestamp(ms: number, format: string): string {
  const us = Math.floor(ms * 1000);
  const d = new Date(Math.floor(us / 1000));
  const micro = ((us % 1_000_000) + 1_000_000) % 1_000_000;
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
      case 'SSS':
        return pad(Math.floor(micro / 1000), 3);
      default:
        return pad(micro, 6);
    }
  });
}

/**
 * Reads a timestamp drawn in `format` (e.g. OCR output) back into ms since the epoch (local time zone,
 * to the ms or µs the format shows), or undefined when the text does not match the format.
 */
export function parseTimestamp(text: string, format: string): number | undefined {
  const fields: string[] = [];
  const re = format.replace(/YYYY|MM|DD|HH|mm|ss|SSSSSS|SSS|[.]/g, (t) => {
    if (t === '.') return '\\.';
    fields.push(t);
    return t === 'YYYY' ? '(\\d{4})' : t === 'SSSSSS' ? '(\\d{6})' : t === 'SSS' ? '(\\d{3})' : '(\\d{2})';
  });
  const m = new RegExp(`^${re}$`).exec(text.trim());
  if (!m) return undefined;
  const v: Record<string, number> = { YYYY: 1970, MM: 1, DD: 1, HH: 0, mm: 0, ss: 0, SSSSSS: 0, SSS: 0 };
  fields.forEach((f, i) => (v[f] = Number(m[i + 1])));
  return new Date(v.YYYY!, v.MM! - 1, v.DD!, v.HH!, v.mm!, v.ss!).getTime() + v.SSS! + v.SSSSSS! / 1000;
}

/** Whether the format ends with milliseconds, which the overlay draws by cutting the text after them. */
export const endsWithMilliseconds = (format: string) => format.match(TOKENS)?.at(-1) === 'SSS' && format.endsWith('SSS');
