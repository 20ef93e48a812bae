/**
 * undici's Pool without the rest of undici. The package's entry point loads
 * every part of it (fetch, WebSocket, caches, mocks, proxy agents: some 400
 * files, about 9 MB of an idle gateway's memory); a provider target needs only
 * the keep-alive Pool and `request()` (docs/operations.md#memory). The entry
 * point adds `request()` and the other convenience methods to
 * Dispatcher.prototype; only `request()` is added here, the same function.
 */
import { createRequire } from 'node:module';
import type { Dispatcher as DispatcherType, Pool as PoolType } from 'undici';

const require = createRequire(import.meta.url);
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof DispatcherType;
const proto = Dispatcher.prototype as { request?: unknown };
proto.request ??= require('undici/lib/api/api-request.js');

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof PoolType;
