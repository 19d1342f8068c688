export { default, rtspKeys, PLUGIN_NAME, type RtspOptions } from './plugin.js';
export { RequestParser, formatResponse, LIMITS } from './request-parser.js';
