export * from './lookup-loop.js';
export * from './registry.js';
