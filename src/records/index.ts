/** Public API of the record library: normalisation, structured hash, signatures, verification, application. */
export * from './errors.js';
export * from './time.js';
export * from './hash.js';
export * from './normalise.js';
export { CALL_RIGHT, isSection, PROPERTIES_SECTION } from './sections.js';
export * from './pem.js';
export * from './certificate.js';
export * from './trust.js';
export * from './signature.js';
export * from './pins.js';
export * from './verify.js';
export * from './apply.js';
export * from './merkle/index.js';
