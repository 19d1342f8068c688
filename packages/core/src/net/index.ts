export * from './connection-guard.js';
export * from './client-slots.js';
export * from './log-throttle.js';
