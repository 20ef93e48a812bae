/**
 * src/telemetry/prom.ts loads prom-client's metric classes and default process metrics without the package's
 * entry point (docs/operations.md#memory); what it registers must be what prom-client's own
 * collectDefaultMetrics() registers: the same metrics, help, types and order, and CPU counters that count.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as promClient from 'prom-client';
import { collectDefaultMetrics, Counter, Registry } from '../../src/telemetry/prom.js';

const headers = (text: string) => text.split('\n').filter((l) => l.startsWith('# '));

describe("prom-client's default metrics without its entry point", () => {
  it("registers the same metrics as prom-client's collectDefaultMetrics, in the same order", async () => {
    const theirs = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: theirs, prefix: 'sipp_gateway_' });
    const ours = new Registry();
    collectDefaultMetrics({ register: ours, prefix: 'sipp_gateway_' });
    const expected = headers(await theirs.metrics());
    assert.ok(expected.some((l) => l.startsWith('# HELP sipp_gateway_process_cpu_seconds_total ')));
    assert.deepEqual(headers(await ours.metrics()), expected);
  });

  it('counts the CPU time spent between scrapes in its three counters', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'p_' });
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
    await registry.metrics();
    const before = { user: await value('p_process_cpu_user_seconds_total'), all: await value('p_process_cpu_seconds_total') };
    const start = process.cpuUsage();
    // Busy until the process has used at least 20 ms of user CPU (a CPU-time bound, not a wall-clock one).
    while (process.cpuUsage(start).user < 20_000) JSON.stringify({ a: [1, 2, 3] });
    await registry.metrics();
    const user = await value('p_process_cpu_user_seconds_total');
    const system = await value('p_process_cpu_system_seconds_total');
    const all = await value('p_process_cpu_seconds_total');
    assert.ok(user - before.user >= 0.02, `user CPU counted ${user - before.user} s`);
    assert.ok(Math.abs(all - (user + system)) < 1e-6, 'total = user + system');
    assert.ok(all > before.all);
  });

  it("exports prom-client's own classes", () => {
    assert.equal(Registry, promClient.Registry);
    assert.equal(Counter, promClient.Counter);
  });
});
