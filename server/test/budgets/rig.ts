/**
 * Shared pieces of the budget tests: a gate module that holds every admitted
 * request until all of a burst were either admitted or refused (so a burst is
 * truly concurrent, whatever the machine's speed), and a record capture.
 */
import type { RequestRecord } from '@sipp/shared';
import type { PipelineModule } from '../../src/public/stages.js';

export interface Gate {
  /** Registered after the budget module: runs only for admitted requests. */
  module: PipelineModule;
  /** Registered too: counts refusals (afterFinish). */
  capture: PipelineModule;
  records: RequestRecord[];
  /** Holds admitted requests until `total` requests were admitted or refused with `code`. */
  arm(total: number, code?: string): void;
}

export function gate(): Gate {
  let total = 0;
  let code = 'budget_exceeded';
  let admitted = 0;
  let refused = 0;
  let waiters: Array<() => void> = [];
  const records: RequestRecord[] = [];
  const check = () => {
    if (total > 0 && admitted + refused >= total) {
      for (const w of waiters) w();
      waiters = [];
      total = 0;
    }
  };
  return {
    records,
    arm(n, c = 'budget_exceeded') {
      total = n;
      code = c;
      admitted = 0;
      refused = 0;
    },
    module: {
      name: 'test_gate',
      async beforeRun() {
        if (total === 0) return;
        admitted++;
        const held = new Promise<void>((r) => waiters.push(r));
        check();
        await held;
      },
    },
    capture: {
      name: 'test_capture',
      afterFinish(r) {
        records.push(r);
        if (total > 0 && r.code === code) {
          refused++;
          check();
        }
      },
    },
  };
}

/** The priced target of the budget tests: output 1000 USD per Mtok, input free. */
export const PRICED_TARGET = (url: string) => `[[targets]]
name = "gpt"
type = "openai"
model = "gpt-test"
api_key_env = "OPENAI_KEY"
base_url = "${url}"
timeout_seconds = 10
pricing = { input_per_mtok = 0, output_per_mtok = 1000 }
`;
