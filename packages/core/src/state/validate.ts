import type { Validator } from './types.js';

/**
 * A value that does not validate. `message` quotes the value (up to 57 characters), which helps with
 * settings such as `streamResolution`; `described` says only what kind of value it was (a string of
 * 57 characters, an object of 2 fields), for values that may hold secrets: a key whose definition
 * says `secret` (or has a `redact`) is reported with `described` only, and a validator of such
 * values may pass `{ quote: false }` so that even `message` never repeats it.
 */
export class ValidationError extends Error {
  /** The message with the value described, never quoted. */
  readonly described: string;
  declare readonly got: unknown;

  constructor(
    readonly path: string,
    readonly expected: string,
    got: unknown,
    opts: { quote?: boolean } = {},
  ) {
    const described = `${path}: expected ${expected}, got ${describeValue(got)}`;
    super(opts.quote === false ? described : `${path}: expected ${expected}, got ${preview(got)}`);
    this.name = 'ValidationError';
    this.described = described;
    // Not enumerable: an error object that reaches a log (pino copies enumerable fields) never carries the value.
    Object.defineProperty(this, 'got', { value: got, enumerable: false });
  }
}

function preview(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** What kind of value `v` is, without any of its content: `a string of 12 characters`, `an array of 3 items`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length === 0 ? 'an empty string' : `a string of ${v.length} character${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  if (Array.isArray(v)) return `an array of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') {
    const n = Object.keys(v).length;
    return `an object of ${n} field${n === 1 ? '' : 's'}`;
  }
  return `a ${typeof v}`;
}

function make<T>(describe: string, schema: Record<string, unknown>, parse: (v: unknown, path: string) => T): Validator<T> {
  return { describe, schema, parse };
}

/** Validators for state values and config fields. `v.int({min,max})`, `v.oneOf([...])`, `v.object({...})`. */
export const v = {
  int(opts: { min?: number; max?: number } = {}): Validator<number> {
    const range = opts.min !== undefined || opts.max !== undefined ? ` ${opts.min ?? '-inf'}..${opts.max ?? 'inf'}` : '';
    const d = `integer${range}`;
    return make(d, { type: 'integer', minimum: opts.min, maximum: opts.max }, (x, p) => {
      if (typeof x !== 'number' || !Number.isInteger(x)) throw new ValidationError(p, d, x);
      if ((opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) throw new ValidationError(p, d, x);
      return x;
    });
  },
  number(opts: { min?: number; max?: number } = {}): Validator<number> {
    const d = `number ${opts.min ?? '-inf'}..${opts.max ?? 'inf'}`;
    return make(d, { type: 'number', minimum: opts.min, maximum: opts.max }, (x, p) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new ValidationError(p, d, x);
      if ((opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) throw new ValidationError(p, d, x);
      return x;
    });
  },
  bool(): Validator<boolean> {
    return make('boolean', { type: 'boolean' }, (x, p) => {
      if (typeof x !== 'boolean') throw new ValidationError(p, 'boolean', x);
      return x;
    });
  },
  string(opts: { maxLength?: number; pattern?: RegExp; describe?: string } = {}): Validator<string> {
    const d = opts.describe ?? 'string';
    return make(d, { type: 'string', maxLength: opts.maxLength, pattern: opts.pattern?.source }, (x, p) => {
      if (typeof x !== 'string') throw new ValidationError(p, d, x);
      if (opts.maxLength !== undefined && x.length > opts.maxLength) throw new ValidationError(p, `${d} of at most ${opts.maxLength} characters`, x);
      if (opts.pattern && !opts.pattern.test(x)) throw new ValidationError(p, d, x);
      return x;
    });
  },
  oneOf<const T extends string>(values: readonly T[]): Validator<T> {
    const d = `one of ${values.join('|')}`;
    return make(d, { type: 'string', enum: [...values] }, (x, p) => {
      if (typeof x !== 'string' || !(values as readonly string[]).includes(x)) throw new ValidationError(p, d, x);
      return x as T;
    });
  },
  /** `WxH` with even sides from 16 to 7680 (encoders need even sizes for 4:2:0). */
  resolution(): Validator<string> {
    const d = 'resolution WxH (even numbers, 16..7680), e.g. 1920x1080';
    return make(d, { type: 'string', pattern: '^[0-9]+x[0-9]+$' }, (x, p) => {
      if (typeof x !== 'string') throw new ValidationError(p, d, x);
      const m = /^(\d{2,4})x(\d{2,4})$/.exec(x);
      if (!m) throw new ValidationError(p, d, x);
      const w = Number(m[1]);
      const h = Number(m[2]);
      if (w < 16 || h < 16 || w > 7680 || h > 7680 || w % 2 || h % 2) throw new ValidationError(p, d, x);
      return x;
    });
  },
  array<T>(item: Validator<T>, opts: { maxItems?: number } = {}): Validator<T[]> {
    const d = `array of ${item.describe}`;
    return make(d, { type: 'array', items: item.schema, maxItems: opts.maxItems }, (x, p) => {
      if (!Array.isArray(x)) throw new ValidationError(p, d, x);
      if (opts.maxItems !== undefined && x.length > opts.maxItems) throw new ValidationError(p, `${d} (at most ${opts.maxItems})`, x);
      return x.map((e, i) => item.parse(e, `${p}[${i}]`));
    });
  },
  /** An object with exactly these fields; `optional` names fields that may be absent. */
  object<S extends Record<string, Validator<unknown>>>(
    shape: S,
    opts: { optional?: readonly (keyof S)[] } = {},
  ): Validator<{ [K in keyof S]: S[K] extends Validator<infer U> ? U : never }> {
    const keys = Object.keys(shape);
    const d = `object {${keys.join(', ')}}`;
    const required = keys.filter((k) => !opts.optional?.includes(k));
    const schema = {
      type: 'object',
      additionalProperties: false,
      required,
      properties: Object.fromEntries(keys.map((k) => [k, shape[k]!.schema])),
    };
    return make(d, schema, (x, p) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ValidationError(p, d, x);
      const o = x as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!(k in shape)) throw new ValidationError(`${p}.${k}`, `a known field (one of ${keys.join(', ')})`, o[k]);
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        if (!(k in o)) {
          if (opts.optional?.includes(k)) continue;
          throw new ValidationError(`${p}.${k}`, shape[k]!.describe, undefined);
        }
        out[k] = shape[k]!.parse(o[k], `${p}.${k}`);
      }
      return out as never;
    });
  },
  /** Any JSON value (for keys whose shape a plugin checks itself). */
  json(): Validator<unknown> {
    return make('JSON value', {}, (x) => x);
  },
  /** The `validateType` names `initObservable` accepts: Int, String, Bool, Float, Object, Array. */
  fromSeed(name: 'Int' | 'String' | 'Bool' | 'Float' | 'Object' | 'Array'): Validator<unknown> {
    switch (name) {
      case 'Int':
        return v.int();
      case 'String':
        return v.string();
      case 'Bool':
        return v.bool();
      case 'Float':
        return v.number();
      case 'Array':
        return make('array', { type: 'array' }, (x, p) => {
          if (!Array.isArray(x)) throw new ValidationError(p, 'array', x);
          return x;
        });
      case 'Object':
        return make('object', { type: 'object' }, (x, p) => {
          if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ValidationError(p, 'object', x);
          return x;
        });
    }
  },
};
