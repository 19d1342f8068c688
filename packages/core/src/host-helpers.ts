import { CamdError, ErrorCodes } from './errors.js';
import type { CamdConfig } from './config.js';
import type { ElementRegistry } from './media/registry.js';

/** The element registry of a host without media (`media: false`): it has nothing and chooses nothing. */
export function emptyRegistry(): ElementRegistry {
  const fail = (): never => {
    throw new CamdError(ErrorCodes.GST_NO_ENCODER, 'this host runs without media (media: false)');
  };
  return {
    has: () => false,
    get: () => undefined,
    list: () => [],
    packageFor: () => undefined,
    registerEncoder: () => undefined,
    encoderCandidates: () => [],
    chooseEncoder: fail,
    chooseDerivedEncoder: () => undefined,
    candidatesFor: () => [],
    chooseDecoder: () => undefined,
    encoderLimits: () => undefined,
    trialRequests: () => [],
    recordTrials: () => undefined,
    trial: () => undefined,
    validateLaunch: () => undefined,
  };
}

/**
 * The config as plugins see it: deep-frozen, and without secrets. Users are reduced to their names
 * and permissions; no password, hash or sealed secret reaches a plugin (they authenticate through
 * `ctx.users` and `ctx.http.requirePermission`), nor the metrics bearer token.
 */
export function publicConfig(config: CamdConfig): Readonly<Record<string, unknown>> {
  const copy = structuredClone(config) as Record<string, unknown>;
  if (Array.isArray(copy.users))
    copy.users = (copy.users as Array<{ username: string; permissions?: unknown }>).map(({ username, permissions }) => ({ username, permissions }));
  if (copy.metrics && typeof copy.metrics === 'object') delete (copy.metrics as Record<string, unknown>).bearerToken;
  return deepFreeze(copy);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
