/**
 * Member order for one request. The router tries members in this order
 * (skipping open circuits and members that do not support the operation):
 *  - fallback: as listed;
 *  - round_robin: the first pick rotates, the rest follow in listed order;
 *  - weighted: the first pick follows the weights (smooth weighted round robin,
 *    so the shares are exact over any window of sum(weights) requests, with no
 *    randomness), the rest follow in listed order;
 *  - least_busy: fewest in-flight requests first (ties keep the listed order).
 */
import type { GroupStrategy } from '@sipp/shared';

export interface Strategy {
  /** Indexes into the member list, best first. `load(i)` is member i's in-flight count. */
  order(load: (i: number) => number): number[];
}

export function createStrategy(kind: GroupStrategy, size: number, weights?: readonly number[]): Strategy {
  const listed = Array.from({ length: size }, (_, i) => i);
  const startingAt = (first: number) => [first, ...listed.filter((i) => i !== first)];
  switch (kind) {
    case 'fallback':
      return { order: () => listed };
    case 'round_robin': {
      let next = 0;
      return {
        order: () => {
          const first = next;
          next = (next + 1) % size;
          return startingAt(first);
        },
      };
    }
    case 'weighted': {
      const w = weights && weights.length === size ? weights : listed.map(() => 1);
      const total = w.reduce((a, b) => a + b, 0);
      const current = listed.map(() => 0);
      return {
        order: () => {
          let best = 0;
          for (const i of listed) {
            current[i]! += w[i]!;
            if (current[i]! > current[best]!) best = i;
          }
          current[best]! -= total;
          return startingAt(best);
        },
      };
    }
    case 'least_busy':
      return {
        order: (load) => {
          const loads = listed.map(load);
          return [...listed].sort((a, b) => loads[a]! - loads[b]! || a - b);
        },
      };
  }
}
