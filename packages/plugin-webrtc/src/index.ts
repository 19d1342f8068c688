export { default, PLUGIN_NAME, webrtcKeys } from './plugin.js';
export { OfferError, parseOfferJson, prepareOffer } from './offer.js';
export type { WebRtcOptions } from './options.js';
