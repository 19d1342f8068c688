export { default, timestampKeys, PLUGIN_NAME, type Corner } from './plugin.js';
export { decodeTimecode, codeGeometry, renderCode, codeBits, crc16, GRID, type DecodableFrame, type CodeGeometry } from './timecode.js';
export { formatTimestamp, DEFAULT_FORMAT, FORMAT_PATTERN } from './format.js';
export { readTimecodes, type TimecodeSample } from './reader.js';
