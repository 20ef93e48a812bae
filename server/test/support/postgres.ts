/**
 * A real PostgreSQL server (Debian's `postgresql` package) for tests: initdb
 * into a temp dir, loopback only, an ephemeral port, password auth. PostgreSQL
 * refuses to run as root, so when the tests run as root (CI) the server runs as
 * the package's `postgres` user. It can be stopped and started again on the
 * same port and data.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './wait.js';

const execFileAsync = promisify(execFile);

export interface TestPostgres {
  port: number;
  password: string;
  /** postgres://sipp:password@127.0.0.1:port/sipp */
  url: string;
  running(): boolean;
  /** Fast shutdown (pg_ctl -m immediate): connections reset. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>;
  /** Runs SQL through psql as the superuser (database `sipp` by default); returns its stdout (unaligned, tuples only). */
  psql(sql: string, database?: string): Promise<string>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** The directory of the Debian PostgreSQL binaries (initdb, pg_ctl), or null when not installed. */
export function postgresBin(): string | null {
  for (const v of ['17', '16', '15', '14', '13']) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  return null;
}

export const POSTGRES_MISSING = 'PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)';

export async function startPostgres(password = 'pg-secret-pw-7d1e3b'): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error(POSTGRES_MISSING);
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'sipp-pg-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`);
  if (asRoot) {
    const { stdout } = await execFileAsync('id', ['-u', 'postgres']);
    const { stdout: gid } = await execFileAsync('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout), Number(gid));
    chownSync(pwfile, Number(stdout), Number(gid));
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) =>
    asRoot ? execFileAsync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : execFileAsync(join(bin, cmd), args);
  await run('initdb', ['-D', data, '-U', 'sipp', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  let child: ChildProcess | null = null;
  const launch = async () => {
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    const c = asRoot
      ? spawn('runuser', ['-u', 'postgres', '--', join(bin, 'postgres'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres did not start on port ${port}:\n${out}`)), 60_000);
      const onData = (d: Buffer) => {
        out += d;
        if (out.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited (${code}) before it was ready:\n${out}`));
      });
    });
    child = c;
  };
  await launch();
  const psql = async (sql: string, database = 'sipp'): Promise<string> => {
    const { stdout } = await execFileAsync(
      'psql',
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'sipp', '-d', database, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      {
        env: { ...process.env, PGPASSWORD: password },
      },
    );
    return stdout;
  };
  await psql('CREATE DATABASE sipp', 'postgres');
  const stop = async () => {
    const c = child;
    if (!c) return;
    child = null;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    // SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint, connections reset.
    c.kill('SIGQUIT');
    if (asRoot) await execFileAsync('pkill', ['-QUIT', '-u', 'postgres', '-f', `postgres -D ${data}`]).catch(() => {});
    await exited;
  };
  return {
    port,
    password,
    url: `postgres://sipp:${password}@127.0.0.1:${port}/sipp`,
    running: () => child !== null,
    stop,
    async start() {
      if (child) throw new Error('postgres is still running');
      await launch();
    },
    psql,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
