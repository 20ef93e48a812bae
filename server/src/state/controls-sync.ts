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

export class ControlsSync {
  private timer: NodeJS.Timeout | undefined;
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
        } catch (err) {
          this.countError(err);
          this.log.debug({ err: safeError(err) }, 'runtime controls resync failed; keeping the last known values');
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
  }
}
