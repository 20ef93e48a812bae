export * from './wire.js';
export * from './traffic.js';
