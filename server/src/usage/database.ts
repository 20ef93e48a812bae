/**
 * The usage database behind one small interface (docs/usage.md): an embedded
 * PostgreSQL (PGlite, Postgres compiled to WASM: a directory of files, no
 * server, no native build) by default, or a PostgreSQL server for fleets
 * (`pg`). Both speak the same SQL, so the schema, the migrations and every
 * query are written once.
 *
 * Each driver is imported only when a gateway is configured to use it: a
 * gateway without `[database]` never loads either (PGlite's WASM heap is
 * hundreds of MB of address space).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lockDirectory } from './lock.js';
import { Worker } from 'node:worker_threads';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /**
   * Embedded database only: runs `sql`, a `COPY … FROM '/dev/blob'`, with `data`
   * as the file it reads (PGlite's `blob` query option). Absent on PostgreSQL,
   * where that path would name a file on the server. `data` is handed to the
   * database thread, not copied: the caller must not use it afterwards.
   */
  copyFrom?(sql: string, data: Uint8Array): Promise<void>;
}

export interface UsageDatabase extends Queryable {
  readonly backend: 'embedded' | 'postgres';
  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on a throw). */
  transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseTarget = { backend: 'embedded'; dataDir: string } | { backend: 'postgres'; url: string };

export async function openDatabase(target: DatabaseTarget): Promise<UsageDatabase> {
  return target.backend === 'embedded' ? openEmbedded(target.dataDir) : openPostgres(target.url);
}

/**
 * The thread that runs PGlite (docs/usage.md#backends). PGlite is PostgreSQL
 * compiled to WebAssembly: opening it (creating its files the first time) runs
 * for seconds without yielding, which on the gateway's thread would hold every
 * public request. Plain JavaScript evaluated as the worker (so it runs the same
 * from source and from dist); PGlite's module URL comes in `workerData`.
 * Messages: `{id, sql, params, blob?}` → `{id, rows}` or `{id, error}`; `{id, close}`
 * (`blob`: the bytes a `COPY … FROM '/dev/blob'` reads, transferred, not copied).
 * PGlite runs its queries one at a time, in arrival order.
 */
const PGLITE_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  try {
    const { PGlite } = await import(workerData.module);
    const db = await PGlite.create(workerData.dataDir, { postgresqlconf: workerData.conf });
    if (workerData.createOnly) {
      await db.close();
      parentPort.postMessage({ ready: true });
      return;
    }
    parentPort.on('message', (m) => {
      if (m.close) {
        db.close().finally(() => parentPort.postMessage({ id: m.id, rows: [] }));
        return;
      }
      db.query(m.sql, m.params, m.blob === undefined ? undefined : { blob: new Blob([m.blob]) }).then(
        (r) => parentPort.postMessage({ id: m.id, rows: r.rows }),
        (err) => parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) }),
      );
    });
    parentPort.postMessage({ ready: true });
  } catch (err) {
    parentPort.postMessage({ failed: String((err && err.message) || err) });
  }
})();
`;

/**
 * Settings of the embedded PostgreSQL (docs/usage.md#backends). PostgreSQL's
 * default 128 MB of shared buffers live inside PGlite's WebAssembly heap and
 * stay resident once touched; the usage writer appends to the end of a few
 * indexes and the spend queries read small rollups, so 16 MB holds what is hot
 * (the rest is read back from the operating system's page cache).
 */
const EMBEDDED_CONF = ['shared_buffers = 16MB'] as const;

/**
 * The first start: PGlite creates its files (initdb) in a thread of its own,
 * ended before the database is opened for use (docs/usage.md#backends).
 * Creating them grows PGlite's WebAssembly heap by about 550 MB that it never
 * gives back (measured: 720 MB idle RSS after a first start, 175 MB after a
 * later one), and a WebAssembly heap is freed only with its thread.
 */
async function createEmbeddedFiles(workerData: { dataDir: string; module: string; conf: string[] }): Promise<void> {
  const worker = new Worker(PGLITE_THREAD, { eval: true, workerData: { ...workerData, createOnly: true } });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { ready?: true; failed?: string }) => {
        if (m.ready) resolve();
        else if (m.failed !== undefined) reject(new Error(`the embedded database could not be created: ${m.failed}`));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the embedded database thread exited (${code}) while creating its files`)));
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * PGlite in a worker thread, so its long WebAssembly runs never hold the
 * gateway's event loop. One connection: a transaction keeps every other query
 * waiting until it ends (a promise chain on this side).
 */
async function openEmbedded(dataDir: string): Promise<UsageDatabase> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // One process at a time (PGlite has no lock of its own): a second one gets DatabaseInUseError.
  const unlock = lockDirectory(dataDir);
  const workerData = { dataDir, module: import.meta.resolve('@electric-sql/pglite'), conf: [...EMBEDDED_CONF] };
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    try {
      await createEmbeddedFiles(workerData);
    } catch (err) {
      unlock();
      throw err;
    }
  }
  const worker = new Worker(PGLITE_THREAD, { eval: true, workerData });
  const pending = new Map<number, { resolve(rows: unknown[]): void; reject(err: Error): void }>();
  let next = 0;
  let broken: Error | null = null;
  const fail = (err: Error) => {
    broken ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { ready?: true; failed?: string; id?: number; rows?: unknown[]; error?: string }) => {
        if (m.ready) return resolve();
        if (m.failed !== undefined) {
          void worker.terminate();
          return reject(new Error(`the embedded database did not open: ${m.failed}`));
        }
        const p = pending.get(m.id!);
        if (!p) return;
        pending.delete(m.id!);
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(m.rows!);
      });
      worker.on('error', (err) => {
        fail(err);
        reject(err);
      });
      worker.on('exit', (code) => {
        const err = new Error(`the embedded database thread exited (${code})`);
        fail(err);
        reject(err);
      });
    });
  } catch (err) {
    unlock();
    throw err;
  }
  const send = <T>(msg: { sql?: string; params?: readonly unknown[]; blob?: Uint8Array; close?: true }): Promise<T[]> => {
    if (broken) return Promise.reject(broken);
    const id = next++;
    return new Promise<T[]>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (rows: unknown[]) => void, reject });
      // A COPY's bytes move to the database thread (their ArrayBuffer is transferred) instead of being copied.
      worker.postMessage({ id, ...msg }, msg.blob ? [msg.blob.buffer as ArrayBuffer] : undefined);
    });
  };
  // Everything runs through one chain: a transaction's BEGIN … COMMIT is never interleaved with another query.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  };
  const raw = <T>(sql: string, params?: readonly unknown[]) => send<T>({ sql, params: params ? [...params] : undefined });
  const copyFrom = async (sql: string, blob: Uint8Array) => void (await send({ sql, blob }));
  return {
    backend: 'embedded',
    query: (sql, params) => serial(() => raw(sql, params)),
    copyFrom: (sql, data) => serial(() => copyFrom(sql, data)),
    transaction: (fn) =>
      serial(async () => {
        await raw('BEGIN');
        try {
          const out = await fn({ query: raw, copyFrom });
          await raw('COMMIT');
          return out;
        } catch (err) {
          await raw('ROLLBACK').catch(() => {});
          throw err;
        }
      }),
    close: () =>
      serial(async () => {
        try {
          if (!broken) await send({ close: true }).catch(() => {});
          await worker.terminate();
        } finally {
          unlock();
        }
      }),
  };
}

async function openPostgres(url: string): Promise<UsageDatabase> {
  const { default: pg } = await import('pg');
  // A few connections: the writer's batches, admin queries and migrations.
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
  // An idle client that loses its server emits 'error' on the pool: without a
  // listener that would crash the process; the next query reports the outage.
  pool.on('error', () => {});
  const query = async <T>(sql: string, params?: readonly unknown[]): Promise<T[]> =>
    (await pool.query(sql, params as unknown[] | undefined)).rows as T[];
  return {
    backend: 'postgres',
    query,
    async transaction(fn) {
      const client = await pool.connect();
      // A server that goes away while this client is checked out makes it emit 'error'
      // (the pool listens only to idle clients): unheard, that would end the process.
      // The query in flight rejects anyway, and the client is discarded below.
      let lost: Error | undefined;
      const onError = (err: Error) => (lost = err);
      client.on('error', onError);
      let failed: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn({
          query: async <T>(sql: string, params?: readonly unknown[]) =>
            (await client.query(sql, params as unknown[] | undefined)).rows as T[],
        });
        await client.query('COMMIT');
        return out;
      } catch (err) {
        failed = err as Error;
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.off('error', onError);
        // A failed transaction's connection may be broken: drop it rather than reuse it.
        client.release(lost ?? failed);
      }
    },
    close: () => pool.end(),
  };
}
