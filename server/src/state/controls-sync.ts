/**
 * Keeps this replica's live controls equal to the stored ones: loads them over
 * the TOML defaults at start, reloads on every change notice and on a periodic
 * resync (the safety net for a lost notice or a Redis outage), and stores each
 * change an admin makes here.
 */
import type { Logger } from 'pino';
import { applyControls, type ControlChange, type LiveControls } from './controls.js';
import type { ControlsStore } from './controls-store.js';
import { safeError } from './redis-connection.js';
import { StateUnavailableError } from '../errors.js';

/** How soon a failed reload is tried again, doubling per failure up to MAX_RETRY_MS. */
const RETRY_MS = 250;
const MAX_RETRY_MS = 8_000;

export class ControlsSync {
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private loading: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly live: LiveControls,
    private readonly store: ControlsStore,
    private readonly log: Logger,
    private readonly countError: (err?: unknown) => void,
  ) {}

  /** Start-up: stored overrides over the TOML defaults; an unreachable store only warns. */
  async start(resyncMs: number): Promise<void> {
    await this.resync();
    this.store.watch(() => void this.resync());
    this.timer = setInterval(() => void this.resync(), resyncMs);
    this.timer.unref();
  }

  /** Reloads the stored controls; concurrent calls collapse into one extra reload. */
  resync(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        try {
          const doc = await this.store.load();
          if (doc) applyControls(this.live, doc);
          this.failures = 0;
        } catch (err) {
          this.countError(err);
          this.log.debug({ err: safeError(err) }, 'runtime controls resync failed; keeping the last known values');
          // A failed reload (a slow or briefly unreachable store) is retried soon, backing off, not only at the
          // next periodic resync: a change notice that arrived then would otherwise wait resync_seconds to apply.
          if (!this.retry && this.timer) {
            const delay = Math.min(RETRY_MS * 2 ** this.failures++, MAX_RETRY_MS);
            this.retry = setTimeout(() => {
              this.retry = undefined;
              void this.resync();
            }, delay);
            this.retry.unref();
          }
        }
      } while (this.again);
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Stores a change already applied to this replica's live objects. */
  async changed(change: ControlChange): Promise<void> {
    try {
      await this.store.save(change);
    } catch (err) {
      this.countError();
      this.log.error({ err: safeError(err), control: change.kind }, 'runtime control change could not be stored');
      throw new StateUnavailableError(
        'the change applies to this replica only: the state store could not save it; retry when it is reachable',
      );
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.retry);
  }
}
