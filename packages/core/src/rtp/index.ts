export * from './h264-rtp.js';
export * from './h265-rtp.js';
export * from './jpeg-rtp.js';
export * from './rtcp.js';
export * from './sdp.js';
export * from './stream-packets.js';
export * from './vp8-rtp.js';
