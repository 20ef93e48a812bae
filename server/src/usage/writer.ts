/**
 * The background usage writer (docs/usage.md#nothing-is-lost). Requests hand
 * it a row and never wait: rows are queued in memory and written in batches
 * (every `flushIntervalMs`, or as soon as `batchRows` are queued) with their
 * rollups in one transaction. While the database fails, batches go to the
 * on-disk spool and are replayed when a write succeeds again; `close()`
 * (SIGTERM) writes — or spools — everything still queued. A SIGKILL loses at
 * most the rows of the last flush interval.
 */
import type { Logger } from 'pino';
import type { UsageRow } from './rows.js';
import type { UsageSpool } from './spool.js';

export interface UsageWriterOptions {
  /** Writes one batch (rows and rollups, one transaction); returns how many rows were new. Throws while the database fails. */
  write(rows: UsageRow[]): Promise<number>;
  spool: UsageSpool;
  log: Logger;
  flushIntervalMs: number;
  batchRows: number;
  /** Counts rows dropped because the spool was full (a metric). */
  onDropped?(rows: number): void;
  /** Counts rows written to the database. */
  onWritten?(rows: number): void;
}

export class UsageWriter {
  private queue: UsageRow[] = [];
  private running: Promise<void> | null = null;
  private again = false;
  private readonly timer: NodeJS.Timeout;
  private failing = false;
  private closed = false;
  private dropped = 0;
  /** Whether the spool may hold rows (unknown at start: a previous run may have left some). */
  private spoolPending = true;

  constructor(private readonly o: UsageWriterOptions) {
    this.timer = setInterval(() => void this.flush(), o.flushIntervalMs);
    this.timer.unref();
  }

  /** Queues one row; never blocks and never throws. */
  add(row: UsageRow): void {
    if (this.closed) return;
    this.queue.push(row);
    if (this.queue.length >= this.o.batchRows) void this.flush();
  }

  get queued(): number {
    return this.queue.length;
  }

  get droppedRows(): number {
    return this.dropped;
  }

  /** Writes everything queued so far; resolves when it is in the database or the spool. */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.drain();
      } while (this.again && this.queue.length > 0);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer and writes (or spools) every queued row. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
    if (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // Nothing new to write: still bring spooled rows home once the database answers
    // again (or rows a previous run left), without waiting for the next request.
    if (this.queue.length === 0 && this.spoolPending) {
      try {
        await this.replaySpool();
        this.recovered();
      } catch (err) {
        this.failed(err);
      }
      return;
    }
    // Only the rows queued when this flush began: rows that arrive while a batch is written wait for the
    // next flush (the interval, or `batchRows` queued), so steady traffic makes one batch per interval,
    // not a stream of small ones each paying the transaction's fixed cost (docs/usage.md#nothing-is-lost).
    let left = this.queue.length;
    while (left > 0 && this.queue.length > 0) {
      const batch = this.queue.splice(0, Math.min(left, this.o.batchRows));
      left -= batch.length;
      try {
        await this.write(batch);
        this.recovered();
        if (this.spoolPending) await this.replaySpool();
      } catch (err) {
        this.failed(err);
        // This batch and whatever else is queued go to disk now: the database
        // just failed, and rows on disk survive a crash of the gateway.
        await this.spool([...batch, ...this.queue.splice(0)]);
        return;
      }
    }
  }

  private recovered(): void {
    if (this.failing) {
      this.failing = false;
      this.o.log.warn('usage database reachable again; replaying the spool');
    }
  }

  private failed(err: unknown): void {
    if (!this.failing) {
      this.failing = true;
      this.o.log.warn(
        { err: { message: (err as Error).message } },
        'usage database write failed; spooling rows to disk until it answers',
      );
    }
  }

  private async write(rows: UsageRow[]): Promise<void> {
    // Not `onWritten?.(await write())`: an absent callback would skip the write itself.
    const n = await this.o.write(rows);
    this.o.onWritten?.(n);
  }

  private async spool(rows: UsageRow[]): Promise<void> {
    this.spoolPending = true;
    let kept = 0;
    try {
      kept = await this.o.spool.append(rows);
    } catch (err) {
      this.o.log.error({ err: { message: (err as Error).message } }, 'usage spool unwritable');
    }
    const lost = rows.length - kept;
    if (lost > 0) {
      this.dropped += lost;
      this.o.onDropped?.(lost);
      this.o.log.error({ rows: lost, spoolBytes: this.o.spool.maxBytes }, 'usage spool full; rows dropped');
    }
  }

  private async replaySpool(): Promise<void> {
    const n = await this.o.spool.replay(this.o.batchRows, (rows) => this.write(rows));
    this.spoolPending = false;
    if (n > 0) this.o.log.info({ rows: n }, 'usage spool replayed');
  }
}
