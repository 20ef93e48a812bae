/** Defined with every error class in errors.ts; this path is kept for existing importers. */
export { StateUnavailableError } from '../errors.js';
