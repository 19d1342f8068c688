// Plugins describe their routes for the OpenAPI document (`schema.summary`, `schema.hide`): keep
// @fastify/swagger's FastifySchema augmentation in the published declarations.
/// <reference types="@fastify/swagger" preserve="true" />
import 'reflect-metadata';

export * from './errors.js';
export * from './hooks.js';
export * from './auth/permissions.js';
export * from './auth/users.js';
export * from './state/types.js';
export * from './state/validate.js';
export * from './state/store.js';
export * from './state/keys.js';
export * from './state/persist.js';
export * from './plugins/contract.js';
export type { Setting, SettingsOf, PluginState } from './plugins/context.js';
export * from './media/types.js';
export * from './media/hub.js';
export * from './media/h264.js';
export * from './media/h264-profiles.js';
export * from './media/h265.js';
export * from './media/codec.js';
export * from './media/vp9.js';
export * from './media/av1.js';
export * from './media/pipeline-handle.js';
export * from './media/registry.js';
export * from './rules.js';
export * from './hooks-instrument.js';
export * from './config.js';
export * from './host.js';
export * from './logger.js';
export * from './media/plane.js';
export { createHttpServer, PluginHttpScope } from './http/server.js';
export { requirePermission, callerOf, basicCaller, FAILED_LOGIN_DELAY_MS } from './http/auth.js';
export { httpError } from './http/errors.js';
export type { PluginListing } from './http/api.js';
export * from './plugins/loader.js';
export * from './media/pipeline/index.js';
export { RestartSupervisor, backoffDelay, STABLE_MS, type SupervisionStats } from './media/pipeline/restart-policy.js';
export * from './auth/http-digest.js';
export * from './rtp/index.js';
export * from './media/alignment.js';
export * from './media/encoder-limits.js';
export * from './media/source-caps.js';
export * from './media/bounds.js';
