import type { Permission } from '../auth/permissions.js';

/** Parses an incoming value (from JSON) into a typed one, or throws `ValidationError`. */
export interface Validator<T> {
  /** Short description for errors and docs, e.g. `integer 1..240`. */
  readonly describe: string;
  /** JSON schema of the accepted values, for OpenAPI. */
  readonly schema: Record<string, unknown>;
  parse(value: unknown, path: string): T;
}

/** A state key: what `initObservable(key, permissionRead, permissionWrite, default, validateType)` takes, typed. */
export interface StateKeyDefinition<T = unknown> {
  readonly key: string;
  readonly default: T;
  readonly permissionRead: readonly Permission[];
  readonly permissionWrite: readonly Permission[];
  readonly validate: Validator<T>;
  readonly description?: string;
  /** Kept across restarts in the state directory (default true). */
  readonly persist?: boolean;
  /**
   * What users see of the value (API reads, the change feed, the answer to a write), e.g. URLs with
   * their passwords masked. The daemon and plugins reading without a caller get the value itself.
   */
  readonly redact?: (value: T) => T;
  /**
   * The value can hold secrets (passwords, tokens, stream keys in URLs): a value that fails validation
   * is described in the error and the log (`got a string of 57 characters`), never quoted. Implied by
   * `redact`.
   */
  readonly secret?: boolean;
}

export interface StateChange<T = unknown> {
  readonly key: string;
  readonly value: T;
  readonly previous: T;
  /** Username of who changed it (`<system>` for the daemon and plugins). */
  readonly by: string;
}

/** The part of the state store that registers keys (handed to the `registerStateKeys` hook). */
export interface StateRegistrar {
  define<T>(def: StateKeyDefinition<T>, owner: string): StateKeyDefinition<T>;
}

/**
 * A rule over several keys that no single validator can check (a stream's size × rate against its
 * source, its encoder and the pixel budget of every stream). The store runs it on every write of one
 * of `keys`, before anything changes.
 */
export interface StateConstraint {
  /** Who added it (for logs). */
  readonly owner: string;
  readonly keys: readonly string[];
  /** Throws (a CamdError, answered 400) when the values as they would be are not allowed; `value(key)` reads them. */
  check(value: (key: string) => unknown, changed: readonly string[]): void;
}
