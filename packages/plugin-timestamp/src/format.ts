/** Human-readable timestamps: a small, validated pattern language (no arbitrary strftime). */

export const FORMAT_TOKENS = ['YYYY', 'MM', 'DD', 'HH', 'mm', 'ss', 'SSS'] as const;
export const DEFAULT_FORMAT = 'YYYY-MM-DD HH:mm:ss.SSS';
/** Tokens and the separators a timestamp needs; nothing that could break out of the overlay text. */
export const FORMAT_PATTERN = /^(?:YYYY|MM|DD|HH|mm|ss|SSS|[ .:/T_-])+$/;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Formats a wall-clock time (ms) in the daemon's local time zone. */
export function formatTimestamp(ms: number, format: string): string {
  const d = new Date(ms);
  return format.replace(/YYYY|MM|DD|HH|mm|ss|SSS/g, (t) => {
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
        return pad(d.getMilliseconds(), 3);
    }
  });
}
