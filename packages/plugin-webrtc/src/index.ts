export { default, PLUGIN_NAME, webrtcKeys } from './plugin.js';
export { WebRtcErrors } from './errors.js';
export { parseOfferJson, prepareOffer } from './offer.js';
export type { WebRtcOptions } from './options.js';
