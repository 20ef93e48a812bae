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
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir);
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
    close: () => db.close(),
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
      try {
        await client.query('BEGIN');
        const out = await fn({
          query: async <T>(sql: string, params?: readonly unknown[]) =>
            (await client.query(sql, params as unknown[] | undefined)).rows as T[],
        });
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.off('error', onError);
        client.release(lost);
      }
    },
    close: () => pool.end(),
  };
}
