/**
 * undici's Pool without the rest of undici. The package's entry point loads
 * every part of it (fetch, WebSocket, caches, mocks, proxy agents: some 400
 * files, about 9 MB of an idle gateway's memory); a provider target needs only
 * the keep-alive Pool and its `dispatch()` (upstream-client.ts reads finite
 * and streamed answers through the handler callbacks, docs/operations.md#memory).
 *
 * undici's Client loads its HTTP/2 side (`client-h2.js`, which loads `node:http2`
 * and with it Node's HTTP/2 and TLS modules, ~0.5 MB of an idle gateway) when it
 * is loaded, though it calls it only for a connection that negotiated h2, which
 * needs the `allowH2` option; the gateway never sets it (every upstream is spoken
 * to over HTTP/1.1). So that one file is entered in Node's module cache as a
 * function that refuses, before the Pool is loaded.
 */
import { createRequire, Module } from 'node:module';
import type { Pool as PoolType } from 'undici';

const require = createRequire(import.meta.url);

const h2File = require.resolve('undici/lib/dispatcher/client-h2.js');
if (!require.cache[h2File]) {
  const noH2 = new Module(h2File);
  noH2.filename = h2File;
  noH2.loaded = true;
  noH2.exports = function connectH2(): never {
    throw new Error('HTTP/2 to an upstream is off (the gateway never sets undici allowH2)');
  };
  require.cache[h2File] = noH2;
}

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof PoolType;
