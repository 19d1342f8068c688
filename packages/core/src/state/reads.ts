import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which state keys a piece of work read. A pipeline is built inside `trackReads`: every key a plugin
 * (or core) reads while building it becomes a dependency of that pipeline, so a change of that key
 * reaches it, live when a fragment declared how, by a rebuild otherwise. Nothing to declare twice.
 */
const current = new AsyncLocalStorage<Set<string>>();
/** Tracked runs in progress (pipelines of several streams build at once). */
let active = 0;

export async function trackReads<T>(fn: () => Promise<T>): Promise<{ result: T; keys: ReadonlySet<string> }> {
  const keys = new Set<string>();
  active++;
  try {
    const result = await current.run(keys, fn);
    return { result, keys };
  } finally {
    // On Node 20 an AsyncLocalStorage in use keeps async hooks on for the whole process: every
    // promise, timer and UDP send then pays an init hook (measured: ~10 % of the daemon's time per
    // WebRTC packet). Off between builds; the next `run` turns them on again.
    if (--active === 0) current.disable();
  }
}

/** Records a read of `key` in the work being tracked, if any. */
export function noteRead(key: string): void {
  current.getStore()?.add(key);
}
