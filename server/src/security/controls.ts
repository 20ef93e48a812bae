/**
 * The runtime controls of the public listener that the admin API changes and
 * the [state] store shares: the blocklist, the rate limiter and admission.
 */
import type { Admission } from './admission.js';
import type { Blocklist } from './blocklist.js';
import type { RateLimiter } from './rate-limit.js';

export interface Controls {
  blocklist: Blocklist;
  rateLimiter: RateLimiter;
  admission: Admission;
}
