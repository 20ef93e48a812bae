import type { RequestRecord } from '@sipp/shared';

/** Receives every finished public request (success or rejection), after the response. */
export interface RequestObserver {
  onRequest(record: RequestRecord): void;
}
