/**
 * undici's Pool without the rest of undici. The package's entry point loads
 * every part of it (fetch, WebSocket, caches, mocks, proxy agents: some 400
 * files, about 9 MB of an idle gateway's memory); a provider target needs only
 * the keep-alive Pool and its `dispatch()` (upstream-client.ts reads finite
 * and streamed answers through the handler callbacks, docs/operations.md#memory).
 */
import { createRequire } from 'node:module';
import type { Pool as PoolType } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof PoolType;
