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
import { mkdirSync } from 'node:fs';
import { lockDirectory } from './lock.js';

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
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

async function openEmbedded(dataDir: string): Promise<UsageDatabase> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // One process at a time (PGlite has no lock of its own): a second one gets DatabaseInUseError.
  const unlock = lockDirectory(dataDir);
  const { PGlite } = await import('@electric-sql/pglite');
  let db: InstanceType<typeof PGlite>;
  try {
    db = await PGlite.create(dataDir);
  } catch (err) {
    unlock();
    throw err;
  }
  const query = async <T>(sql: string, params?: readonly unknown[]): Promise<T[]> =>
    (await db.query<T>(sql, params as unknown[] | undefined)).rows;
  return {
    backend: 'embedded',
    query,
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <T>(sql: string, params?: readonly unknown[]) =>
            (await tx.query<T>(sql, params as unknown[] | undefined)).rows,
        }),
      ),
    close: async () => {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
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
      // A checked-out client has no pool listener: a server that goes away
      // mid-transaction would emit an uncaught 'error' (the query rejects too).
      const onError = () => {};
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
        client.removeListener('error', onError);
        // A failed transaction's connection may be broken: drop it rather than reuse it.
        client.release(failed);
      }
    },
    close: () => pool.end(),
  };
}
