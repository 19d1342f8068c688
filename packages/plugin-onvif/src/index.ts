export { default, PLUGIN_NAME } from './plugin.js';
export { onvifKeys } from './scopes.js';
export type { OnvifOptions } from './options.js';
