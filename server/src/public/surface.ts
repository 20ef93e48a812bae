/** The surface contract moved to surfaces/surface.ts; this path is kept for branches written against it. */
export * from '../surfaces/surface.js';
