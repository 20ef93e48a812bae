/**
 * The load generator of the bench sections (autocannon, closed loop) and the
 * gateway's CPU per request from /proc. The provider-path tables themselves
 * are overhead.ts.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';

export interface Run {
  rps: number;
  mean: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
}

export function load(opts: {
  url: string;
  connections: number;
  seconds?: number;
  amount?: number;
  headers: Record<string, string>;
  body: string;
}): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: opts.url,
        method: 'POST',
        connections: opts.connections,
        pipelining: 1,
        ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? 5 }),
        headers: { 'content-type': 'application/json', ...opts.headers },
        body: opts.body,
      },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          rps: r.requests.average,
          mean: r.latency.mean,
          p50: r.latency.p50,
          p99: r.latency.p99,
          errors: r.errors + r.timeouts,
          non2xx: r.non2xx,
          total: r.requests.total,
        });
      },
    );
  });
}

/**
 * CPU seconds (user + system) a process has used, from /proc (clock ticks of
 * 10 ms). Per-request CPU cost holds up on a shared, busy host where
 * throughput and latency do not.
 */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs `load` and returns it with the gateway's CPU microseconds per request. */
export async function measured(pid: number, run: () => Promise<Run>): Promise<Run & { cpuUs: number }> {
  const before = cpuSecondsOf(pid);
  const r = await run();
  return { ...r, cpuUs: ((cpuSecondsOf(pid) - before) * 1e6) / Math.max(1, r.total) };
}
