import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which state keys a piece of work read. A pipeline is built inside `trackReads`: every key a plugin
 * (or core) reads while building it becomes a dependency of that pipeline, so a change of that key
 * reaches it, live when a fragment declared how, by a rebuild otherwise. Nothing to declare twice.
 */
const current = new AsyncLocalStorage<Set<string>>();

export async function trackReads<T>(fn: () => Promise<T>): Promise<{ result: T; keys: ReadonlySet<string> }> {
  const keys = new Set<string>();
  const result = await current.run(keys, fn);
  return { result, keys };
}

/** Records a read of `key` in the work being tracked, if any. */
export function noteRead(key: string): void {
  current.getStore()?.add(key);
}
