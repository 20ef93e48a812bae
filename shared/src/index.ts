export * from './wire.js';
export * from './traffic.js';
export * from './admin.js';
export * from './routing.js';
export * from './fleet.js';
export * from './budgets.js';
export * from './keys.js';
export * from './spend.js';
