import type { Logger } from 'pino';
import { CamdError, ErrorCodes } from './errors.js';
import { COLLECTOR_HOOKS, recordCollectorFailure } from './collectors.js';
import type { CamdHooks, HookName } from './hooks.js';

/** Notification hooks: a failing tap is logged and the remaining taps still run. */
const NOTIFICATIONS: ReadonlySet<HookName> = new Set<HookName>(['clientConnected', 'clientDisconnected', 'networkFeedback']);

interface TapInfo {
  type: 'sync' | 'async' | 'promise';
  name: string;
  fn: (...args: unknown[]) => unknown;
}

interface Interceptable {
  intercept(i: { register?: (tap: TapInfo) => TapInfo }): void;
}

/**
 * Wraps every tap so that a failure names the hook and the plugin (tap name), notification hooks
 * isolate failing taps, and an async tap that does not settle within `timeoutMs` is reported.
 * Collector hooks isolate failing taps too: the failure goes to the answer (collectors.ts) and is
 * logged once until the tap answers again.
 */
export function instrumentHooks(hooks: CamdHooks, logger: Logger, opts: { timeoutMs?: number } = {}): void {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  for (const hookName of Object.keys(hooks) as HookName[]) {
    const hook = hooks[hookName] as unknown as Interceptable;
    const notify = NOTIFICATIONS.has(hookName);
    const collector = COLLECTOR_HOOKS.has(hookName);
    hook.intercept({
      register(tap) {
        const fn = tap.fn;
        const fail = (err: unknown): CamdError =>
          err instanceof CamdError && err.hook
            ? err
            : new CamdError(ErrorCodes.HOOK_FAILED, `hook ${hookName}: "${tap.name}" failed: ${(err as Error)?.message ?? String(err)}`, {
                plugin: tap.name,
                hook: hookName,
                cause: err,
              });
        if (tap.type === 'promise') {
          tap.fn = (...args: unknown[]) => {
            let timer: NodeJS.Timeout | undefined;
            const timeout = new Promise<never>((_, reject) => {
              timer = setTimeout(
                () =>
                  reject(
                    new CamdError(ErrorCodes.HOOK_TIMEOUT, `hook ${hookName}: "${tap.name}" did not settle within ${timeoutMs} ms`, {
                      plugin: tap.name,
                      hook: hookName,
                    }),
                  ),
                timeoutMs,
              );
              timer.unref();
            });
            return Promise.race([Promise.resolve().then(() => fn(...args)), timeout])
              .catch((err) => {
                throw fail(err);
              })
              .finally(() => clearTimeout(timer));
          };
        } else if (tap.type === 'sync') {
          let failing: string | undefined; // collector: the failure last logged
          tap.fn = (...args: unknown[]) => {
            try {
              const value = fn(...args);
              if (failing !== undefined) logger.info({ plugin: tap.name, hook: hookName }, `hook ${hookName}: "${tap.name}" answers again`);
              failing = undefined;
              return value;
            } catch (err) {
              const e = fail(err);
              if (collector) {
                const message = (err as Error)?.message ?? String(err);
                recordCollectorFailure({ plugin: tap.name, hook: hookName, message });
                if (message !== failing) logger.error({ err: e, plugin: tap.name, hook: hookName }, `${e.message} (left out of the answer while it fails)`);
                failing = message;
                return undefined;
              }
              if (!notify) throw e;
              logger.error({ err: e, plugin: tap.name, hook: hookName }, e.message);
              return undefined;
            }
          };
        }
        return tap;
      },
    });
  }
}
