export { default, ABR_API, abrKeys, PLUGIN_NAME, type AbrApi, type AbrOptions } from './plugin.js';
export { seedPolicy, aggregate, LOSS_THRESHOLD, type AbrInput, type AbrDecision, type AbrBounds, type ClientReport } from './policy.js';
