/**
 * The bounded on-disk spool of the usage writer (docs/usage.md#nothing-is-lost):
 * while the database is unreachable, batches are appended here as JSON lines;
 * when it answers again they are replayed and the files removed. Rows carry
 * their row id, so a replay interrupted by a crash and run again inserts each
 * row once. Past `maxBytes` new rows are dropped (and counted by the caller).
 */
import { appendFile, mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { UsageRow } from './rows.js';

const ACTIVE = 'usage-spool.jsonl';
const REPLAY = /^usage-spool-replay-\d+-\d+\.jsonl$/;

export class UsageSpool {
  private bytes: number | null = null;
  private seq = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** Appends rows; returns how many were kept (the rest did not fit under maxBytes). */
  async append(rows: readonly UsageRow[]): Promise<number> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.bytes ??= await this.size();
    let text = '';
    let kept = 0;
    for (const r of rows) {
      const line = `${JSON.stringify(r)}\n`;
      const n = Buffer.byteLength(line);
      if (this.bytes + n > this.maxBytes) break;
      this.bytes += n;
      text += line;
      kept++;
    }
    if (text) await appendFile(join(this.dir, ACTIVE), text, { mode: 0o600 });
    return kept;
  }

  /** Bytes waiting in the spool (active file and unfinished replays). */
  async size(): Promise<number> {
    let total = 0;
    for (const f of await this.files()) total += (await stat(join(this.dir, f)).catch(() => ({ size: 0 }))).size;
    return total;
  }

  /**
   * Moves the active file aside and hands every waiting row to `write`, in
   * batches of `batchRows`; a file is removed once all its rows were written.
   * A failure stops the replay and leaves the remaining files for next time.
   */
  async replay(batchRows: number, write: (rows: UsageRow[]) => Promise<void>): Promise<number> {
    const files = await this.files();
    if (files.length === 0) return 0;
    if (files.includes(ACTIVE)) {
      const aside = `usage-spool-replay-${Date.now()}-${this.seq++}.jsonl`;
      await rename(join(this.dir, ACTIVE), join(this.dir, aside));
      files[files.indexOf(ACTIVE)] = aside;
    }
    let written = 0;
    for (const f of files.sort()) {
      const path = join(this.dir, f);
      const rows = (await readFile(path, 'utf8'))
        .split('\n')
        .filter((l) => l.length > 0)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as UsageRow];
          } catch {
            return []; // a line torn by a crash mid-append
          }
        });
      for (let i = 0; i < rows.length; i += batchRows) await write(rows.slice(i, i + batchRows));
      await unlink(path);
      written += rows.length;
    }
    this.bytes = await this.size();
    return written;
  }

  private async files(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f === ACTIVE || REPLAY.test(f));
    } catch {
      return [];
    }
  }
}
