import { join } from 'node:path';
import { CamdError, ErrorCodes } from '../errors.js';
import { allows, type Caller, type Permission, SYSTEM } from '../auth/permissions.js';
import { AtomicJsonFile } from './persist.js';
import type { StateChange, StateConstraint, StateKeyDefinition, StateRegistrar, Validator } from './types.js';
import { ValidationError, v } from './validate.js';
import { noteRead } from './reads.js';

interface Entry {
  def: StateKeyDefinition<unknown>;
  owner: string;
  value: unknown;
}

export interface StateEntryView {
  key: string;
  value: unknown;
  owner: string;
  writable: boolean;
  description?: string;
  type: string;
}

type Listener = (change: StateChange) => void;

/** The option bag of `initObservable`. */
export interface ObservableOptions<T> {
  permissionRead: readonly Permission[];
  permissionWrite: readonly Permission[];
  default: T;
  validateType?: Validator<T> | 'Int' | 'String' | 'Bool' | 'Float' | 'Object' | 'Array';
  description?: string;
  owner?: string;
}

/**
 * Typed, validated, permission-checked, persisted and observable settings. Values a user sets are
 * kept in `<stateDir>/state.json`; a key's stored value survives restarts until the key is reset.
 */
export class StateStore implements StateRegistrar {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<Listener>();
  private readonly keyListeners = new Map<string, Set<Listener>>();
  private readonly file: AtomicJsonFile<Record<string, unknown>> | undefined;
  private stored: Record<string, unknown>;

  constructor(stateDir?: string) {
    this.file = stateDir ? new AtomicJsonFile(join(stateDir, 'state.json')) : undefined;
    try {
      this.stored = this.file?.readSync() ?? {};
    } catch (e) {
      throw new CamdError(ErrorCodes.STATE_PERSIST, `state file ${this.file?.path} is unreadable: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Registers a key. A stored value that no longer validates falls back to the default (and is reported). */
  /** The plugin (or `core`) that defined a key. */
  owner(key: string): string {
    return this.entry(key).owner;
  }

  define<T>(def: StateKeyDefinition<T>, owner: string): StateKeyDefinition<T> {
    if (this.entries.has(def.key)) {
      const prev = this.entries.get(def.key)!;
      throw new CamdError(ErrorCodes.STATE_DUPLICATE_KEY, `state key "${def.key}" is defined twice (by ${prev.owner} and ${owner})`, { plugin: owner });
    }
    def.validate.parse(def.default, def.key); // a default that does not validate is a programming error
    let value: unknown = def.default;
    if (def.persist !== false && Object.hasOwn(this.stored, def.key)) {
      try {
        value = def.validate.parse(this.stored[def.key], def.key);
      } catch {
        this.invalidStored.push(def.key);
      }
    }
    this.entries.set(def.key, { def: def as StateKeyDefinition<unknown>, owner, value });
    return def;
  }

  /** Keys whose persisted value did not validate any more and were reset to their default. */
  readonly invalidStored: string[] = [];

  /** Defines a key from an option bag, with `validateType` a Validator or a type name: `initObservable("rtspPort", { permissionRead, permissionWrite, default, validateType })`. */
  initObservable<T>(key: string, opts: ObservableOptions<T>): StateKeyDefinition<T> {
    const validate = (typeof opts.validateType === 'string' ? v.fromSeed(opts.validateType) : (opts.validateType ?? v.json())) as Validator<T>;
    return this.define(
      { key, default: opts.default, permissionRead: opts.permissionRead, permissionWrite: opts.permissionWrite, validate, description: opts.description },
      opts.owner ?? 'core',
    );
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  definition(key: string): StateKeyDefinition<unknown> {
    return this.entry(key).def;
  }

  /** Reads a value. Without a caller this is the daemon reading its own setting. */
  get<T = unknown>(key: string, caller: Caller = SYSTEM): T {
    const e = this.entry(key);
    noteRead(key);
    if (!allows(caller, e.def.permissionRead)) {
      throw new CamdError(ErrorCodes.STATE_FORBIDDEN, `${caller.username} may not read "${key}"`);
    }
    return this.shown(e, structuredClone(e.value), caller) as T;
  }

  /** `value` of `key` as `caller` may see it (its definition's `redact` for any caller but the daemon). */
  present(key: string, value: unknown, caller: Caller): unknown {
    return this.shown(this.entry(key), structuredClone(value), caller);
  }

  private shown(e: Entry, value: unknown, caller: Caller): unknown {
    return caller !== SYSTEM && e.def.redact ? e.def.redact(value) : value;
  }

  /** Every key the caller may read. */
  list(caller: Caller = SYSTEM): StateEntryView[] {
    const out: StateEntryView[] = [];
    for (const [key, e] of this.entries) {
      if (!allows(caller, e.def.permissionRead)) continue;
      out.push({
        key,
        value: this.shown(e, structuredClone(e.value), caller),
        owner: e.owner,
        writable: allows(caller, e.def.permissionWrite),
        description: e.def.description,
        type: e.def.validate.describe,
      });
    }
    return out;
  }

  canRead(key: string, caller: Caller): boolean {
    const e = this.entries.get(key);
    return !!e && allows(caller, e.def.permissionRead);
  }

  /**
   * Validates, checks the caller's write permission, persists (resolves after the value is on
   * disk) and notifies subscribers. Throws `CamdError` with STATE_* codes; nothing changes on error.
   */
  async set<T = unknown>(key: string, value: unknown, caller: Caller = SYSTEM): Promise<T> {
    const [parsed] = await this.setMany([[key, value]], caller);
    return parsed as T;
  }

  /**
   * Sets several keys at once (an ONVIF encoder configuration: size, rate, codec together): every
   * value is checked first (permission, validator, then the constraints over the values as they would
   * all be), then all are persisted in one write and notified. Nothing changes when one is refused.
   */
  async setMany(changes: ReadonlyArray<readonly [key: string, value: unknown]>, caller: Caller = SYSTEM): Promise<unknown[]> {
    const parsed = changes.map(([key, value]) => [key, this.parse(key, value, caller)] as const);
    const next = new Map(parsed.filter(([key, value]) => JSON.stringify(this.entry(key).value) !== JSON.stringify(value)));
    if (next.size > 0) this.checkConstraints(next);
    const previous = new Map([...next.keys()].map((k) => [k, this.entry(k).value]));
    for (const [key, value] of next) this.entry(key).value = value;
    const persisted = [...next.keys()].filter((k) => this.entry(k).def.persist !== false);
    if (persisted.length > 0 && this.file) {
      const before = this.stored;
      this.stored = { ...this.stored, ...Object.fromEntries(persisted.map((k) => [k, next.get(k)])) };
      try {
        await this.file.write(this.stored);
      } catch (err) {
        this.stored = before;
        for (const [k, v] of previous) this.entry(k).value = v;
        throw new CamdError(ErrorCodes.STATE_PERSIST, `could not persist ${persisted.map((k) => `"${k}"`).join(', ')}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    for (const [key, value] of next) this.emit({ key, value: structuredClone(value), previous: previous.get(key), by: caller.username });
    return parsed.map(([, value]) => structuredClone(value));
  }

  /**
   * Adds a rule over several keys (stream size × rate × the pixel budget), checked on every write of
   * one of its keys against the values as they would be. Returns the function that removes it.
   */
  constrain(constraint: StateConstraint): () => void {
    this.constraints.add(constraint);
    return () => this.constraints.delete(constraint);
  }

  private readonly constraints = new Set<StateConstraint>();

  private parse(key: string, value: unknown, caller: Caller): unknown {
    const e = this.entry(key);
    if (!allows(caller, e.def.permissionWrite)) {
      const why = e.def.permissionWrite.length === 0 ? 'it is read-only' : `it needs one of ${e.def.permissionWrite.join(', ')}`;
      throw new CamdError(ErrorCodes.STATE_FORBIDDEN, `${caller.username} may not write "${key}": ${why}`);
    }
    try {
      return e.def.validate.parse(value, key);
    } catch (err) {
      if (err instanceof ValidationError) {
        const secret = e.def.secret ?? e.def.redact !== undefined;
        throw new CamdError(ErrorCodes.STATE_INVALID, secret ? err.described : err.message, { details: { path: err.path, expected: err.expected } });
      }
      throw err;
    }
  }

  private checkConstraints(next: ReadonlyMap<string, unknown>): void {
    const changed = [...next.keys()];
    const value = (k: string) => (next.has(k) ? next.get(k) : this.entry(k).value);
    for (const c of this.constraints) if (c.keys.some((k) => next.has(k))) c.check(value, changed);
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to the changes of one key. */
  watch<T = unknown>(key: string, listener: (change: StateChange<T>) => void): () => void {
    let set = this.keyListeners.get(key);
    if (!set) this.keyListeners.set(key, (set = new Set()));
    set.add(listener as Listener);
    return () => set!.delete(listener as Listener);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Where a subscriber's exception goes (the host logs it); it never undoes a persisted change. */
  onListenerError: (err: unknown, change: StateChange) => void = (err) => console.error(err);

  private emit(change: StateChange): void {
    for (const l of [...(this.keyListeners.get(change.key) ?? []), ...this.listeners]) {
      try {
        l(change);
      } catch (err) {
        this.onListenerError(err, change);
      }
    }
  }

  private entry(key: string): Entry {
    const e = this.entries.get(key);
    if (!e) throw new CamdError(ErrorCodes.STATE_UNKNOWN_KEY, `no state key "${key}"`);
    return e;
  }
}
