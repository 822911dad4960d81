export * from './broadcast-check.js';
export * from './lookup-loop.js';
export * from './registry.js';
