/** Defined with every error class in errors.ts; this path is kept for existing importers. */
export { InvalidFieldError } from '../errors.js';
