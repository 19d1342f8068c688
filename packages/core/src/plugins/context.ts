import { CamdError, ErrorCodes } from '../errors.js';
import { allows, SYSTEM, type Caller, type Permission } from '../auth/permissions.js';
import type { CamdHooks, HookName } from '../hooks.js';
import type { StateStore } from '../state/store.js';
import type { StateChange, StateKeyDefinition } from '../state/types.js';

/** A typed handle on one setting, from a plugin's own `stateKeys`. */
export interface Setting<T> {
  readonly key: string;
  get(): T;
  /** Calls `fn` after every accepted change; returns the unsubscribe function. */
  watch(fn: (value: T, change: StateChange<T>) => void): () => void;
  /** Validates, persists and notifies, as the plugin itself. */
  set(value: T): Promise<T>;
}

/** `ctx.settings`: a handle per key of the plugin's `stateKeys` record, typed by its definition. */
export type SettingsOf<K> = { readonly [P in keyof K]: K[P] extends StateKeyDefinition<infer T> ? Setting<T> : never };

/**
 * The state store as a plugin sees it. Reads are open (permissions apply to the caller passed).
 * Writes without a caller are the plugin's own: allowed for the keys it owns, and for other keys only
 * when the plugin's declared `permissions` allow it; a write with a user's caller is checked against
 * that user, as the API does.
 */
export type PluginState = Pick<StateStore, 'get' | 'list' | 'canRead' | 'definition' | 'has' | 'watch' | 'subscribe' | 'keys' | 'owner'> & {
  set<T = unknown>(key: string, value: unknown, caller?: Caller): Promise<T>;
  /** Sets several keys as `caller`, all or none (`StateStore.setMany`): an ONVIF encoder configuration. */
  setMany(changes: ReadonlyArray<readonly [key: string, value: unknown]>, caller: Caller): Promise<unknown[]>;
};

export function pluginState(store: StateStore, plugin: string, permissions: readonly Permission[]): PluginState {
  const asPlugin: Caller = Object.freeze({ username: plugin, permissions: Object.freeze([...permissions]) });
  return Object.freeze({
    get: store.get.bind(store),
    list: store.list.bind(store),
    canRead: store.canRead.bind(store),
    definition: store.definition.bind(store),
    has: store.has.bind(store),
    watch: store.watch.bind(store),
    subscribe: store.subscribe.bind(store),
    keys: store.keys.bind(store),
    owner: store.owner.bind(store),
    // Only as a caller (a user of an interface): the plugin's own writes go through set().
    setMany: (changes: ReadonlyArray<readonly [key: string, value: unknown]>, caller: Caller) => {
      if (!caller || caller === SYSTEM)
        return Promise.reject(new CamdError(ErrorCodes.STATE_FORBIDDEN, `plugin "${plugin}": setMany needs the caller`, { plugin }));
      return store.setMany(changes, caller);
    },
    set<T>(key: string, value: unknown, caller?: Caller): Promise<T> {
      if (caller && caller !== SYSTEM) return store.set<T>(key, value, caller);
      const owner = store.owner(key);
      if (owner === plugin) return store.set<T>(key, value, SYSTEM);
      if (!allows(asPlugin, store.definition(key).permissionWrite)) {
        return Promise.reject(
          new CamdError(ErrorCodes.STATE_FORBIDDEN, `plugin "${plugin}" may not write "${key}" (owned by ${owner}): declare a permission that allows it`, {
            plugin,
          }),
        );
      }
      return store.set<T>(key, value, asPlugin);
    },
  });
}

export function settingsOf<K extends Record<string, StateKeyDefinition<any>>>(state: PluginState, keys: K | undefined): SettingsOf<K> {
  const out: Record<string, Setting<unknown>> = {};
  for (const [name, def] of Object.entries(keys ?? {})) {
    out[name] = Object.freeze({
      key: def.key,
      get: () => state.get(def.key),
      watch: (fn: (value: unknown, change: StateChange<unknown>) => void) => state.watch(def.key, (c) => fn(c.value, c)),
      set: (value: unknown) => state.set(def.key, value),
    });
  }
  return Object.freeze(out) as SettingsOf<K>;
}

type Tappable = { tap?: (...a: any[]) => unknown; tapAsync?: (...a: any[]) => unknown; tapPromise?: (...a: any[]) => unknown };

/**
 * The hooks as one plugin sees them: every tap carries the plugin's name (so errors, timeouts and
 * logs name the plugin, whatever name it passes), and calls go to the shared hooks.
 */
export function pluginHooks(hooks: CamdHooks, plugin: string): CamdHooks {
  const named = (opts: unknown) => (typeof opts === 'object' && opts !== null ? { ...(opts as object), name: plugin } : { name: plugin });
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(hooks) as HookName[]) {
    const hook = hooks[name] as unknown as Tappable & object;
    // Bound methods are kept while the hook keeps the same function (tapable swaps `call` when it
    // recompiles after a new tap), so a plugin calling a hook often allocates nothing per call.
    const bound = new Map<PropertyKey, { fn: (...a: unknown[]) => unknown; bound: (...a: unknown[]) => unknown }>();
    out[name] = new Proxy(hook, {
      get(target, prop) {
        if (prop === 'tap' || prop === 'tapAsync' || prop === 'tapPromise') {
          const fn = (target as Record<string, (...a: unknown[]) => unknown>)[prop]!;
          return (opts: unknown, tapFn: unknown) => fn.call(target, named(opts), tapFn);
        }
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        const cached = bound.get(prop);
        if (cached && cached.fn === v) return cached.bound;
        const b = v.bind(target);
        bound.set(prop, { fn: v, bound: b });
        return b;
      },
    });
  }
  return Object.freeze(out) as CamdHooks;
}

/** Rejects a `stateKeys` record whose property names differ from the keys they define. */
export function checkStateKeys(
  plugin: string,
  keys: Record<string, StateKeyDefinition<any>> | readonly StateKeyDefinition<any>[] | undefined,
): StateKeyDefinition<any>[] {
  if (!keys) return [];
  if (Array.isArray(keys)) return [...keys];
  for (const [name, def] of Object.entries(keys)) {
    if (def.key !== name)
      throw new CamdError(ErrorCodes.PLUGIN_INVALID, `plugin "${plugin}": stateKeys.${name} defines "${def.key}"; the property must be named after its key`, {
        plugin,
      });
  }
  return Object.values(keys);
}
