export { default, timestampKeys, overlayFragment, PLUGIN_NAME, ELEMENT, type Corner, type OverlaySettings } from './plugin.js';
export { decodeTimecode, readTimecode, codeGeometry, codeLaunch, CODE_ELEMENT, type DecodableFrame, type CodeGeometry, type Timecode } from './timecode.js';
export { formatTimestamp, parseTimestamp, glibFormat, DEFAULT_FORMAT, FORMAT_PATTERN } from './format.js';
export { textLayout, type TextLayout } from './layout.js';
export { readTimecodes, timecodeFrames, type TimecodeSample } from './reader.js';
