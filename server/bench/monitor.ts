/**
 * Watches a running gateway process from outside for the soak and fuzz runs:
 * RSS from /proc, the gateway's own event-loop delay from the management
 * `/metrics` (prom-client's `sipp_gateway_nodejs_eventloop_lag_max_seconds`,
 * the maximum since the previous scrape), and whether `/healthz` keeps
 * answering (latency of each probe, failures).
 */
import { rssOf } from './processes.js';

export interface RssSample {
  /** Seconds since the monitor started. */
  t: number;
  bytes: number;
}

export interface MonitorReport {
  rss: RssSample[];
  /** V8 heap in use (`sipp_gateway_nodejs_heap_size_used_bytes`), one sample per scrape: tells heap growth from other RSS. */
  heapUsed: RssSample[];
  /** Largest event-loop delay the gateway measured itself, in ms (null when /metrics had no such series). */
  eventLoopMaxMs: number | null;
  healthProbes: number;
  healthFailures: number;
  healthMaxMs: number;
}

const LAG_MAX = /^sipp_gateway_nodejs_eventloop_lag_max_seconds\s+([0-9.eE+-]+)$/m;
const HEAP_USED = /^sipp_gateway_nodejs_heap_size_used_bytes\s+([0-9.eE+-]+)$/m;

export function startMonitor(pid: number, mgmtPort: number, options: { rssEveryMs?: number; probeEveryMs?: number } = {}) {
  const started = Date.now();
  const report: MonitorReport = {
    rss: [],
    heapUsed: [],
    eventLoopMaxMs: null,
    healthProbes: 0,
    healthFailures: 0,
    healthMaxMs: 0,
  };
  const base = `http://127.0.0.1:${mgmtPort}`;
  let stopped = false;

  const sampleRss = () => {
    try {
      report.rss.push({ t: (Date.now() - started) / 1000, bytes: rssOf(pid) });
    } catch {
      /* the process is gone */
    }
  };
  const scrape = async () => {
    try {
      const r = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) });
      const text = await r.text();
      const m = LAG_MAX.exec(text);
      if (m) report.eventLoopMaxMs = Math.max(report.eventLoopMaxMs ?? 0, Number(m[1]) * 1000);
      const h = HEAP_USED.exec(text);
      if (h) report.heapUsed.push({ t: (Date.now() - started) / 1000, bytes: Number(h[1]) });
    } catch {
      /* counted by the health probe */
    }
  };
  const probe = async () => {
    const t0 = performance.now();
    report.healthProbes++;
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) });
      await r.arrayBuffer();
      if (r.status !== 200) report.healthFailures++;
    } catch {
      report.healthFailures++;
    }
    report.healthMaxMs = Math.max(report.healthMaxMs, performance.now() - t0);
  };
  // One loop per kind, each waiting for its previous round: a stalled gateway slows the probes, it does not pile them up.
  const loop = async (every: number, fn: () => Promise<void> | void) => {
    while (!stopped) {
      await fn();
      await new Promise((r) => setTimeout(r, every));
    }
  };
  void scrape(); // resets the lag histogram: the maximum then covers the run only
  sampleRss();
  const loops = [loop(options.rssEveryMs ?? 2_000, sampleRss), loop(1_000, scrape), loop(options.probeEveryMs ?? 250, probe)];
  return {
    report,
    async stop(): Promise<MonitorReport> {
      stopped = true;
      await Promise.all(loops);
      sampleRss();
      await scrape();
      return report;
    },
  };
}

/** Least-squares slope of RSS over time, in MB per minute, over the samples at or after `fromSeconds`. */
export function rssSlopeMbPerMin(samples: readonly RssSample[], fromSeconds = 0): number | null {
  const s = samples.filter((x) => x.t >= fromSeconds);
  if (s.length < 3) return null;
  const n = s.length;
  const mt = s.reduce((a, x) => a + x.t, 0) / n;
  const mb = s.reduce((a, x) => a + x.bytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of s) {
    num += (x.t - mt) * (x.bytes - mb);
    den += (x.t - mt) ** 2;
  }
  if (den === 0) return null;
  return ((num / den) * 60) / 1024 / 1024;
}

export const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
