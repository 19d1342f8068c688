export { default, PLUGIN_NAME } from './plugin.js';
export { parseSoap, SoapFault } from './soap.js';
