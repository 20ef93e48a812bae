import { readFileSync } from 'node:fs';

// This file is server/dist/src/version.js, or server/src/version.ts when run from source (README.md#developer-loop).
const PACKAGE_JSON = new URL(import.meta.url.endsWith('.ts') ? '../package.json' : '../../package.json', import.meta.url);

/** The server package version, read once at start-up. */
export const VERSION: string = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
