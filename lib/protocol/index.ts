export * from './constants.js';
export * from './decoder.js';
export * from './encoder.js';
export * from './names.js';
export * from './response.js';
