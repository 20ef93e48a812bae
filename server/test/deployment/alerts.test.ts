/**
 * deploy/prometheus/alerts.yml and deploy/grafana/sipp-gateway.json
 * (docs/operations.md#alerts-and-the-grafana-dashboard): promtool validates the
 * rules and runs their unit tests, and every metric the rules and the
 * dashboard use is exported by a default gateway before any traffic (so an
 * alert never silently watches a name that does not exist).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { chatGatewayToml, startTestGateway, type TestGateway } from '../support/gateway.js';
import { getText } from '../support/http.js';
import { readRepoFile, repoPath, which } from './files.js';

const execFileAsync = promisify(execFile);
const RULES = 'deploy/prometheus/alerts.yml';
const RULE_TESTS = 'deploy/prometheus/alerts.test.yml';
const DASHBOARD = 'deploy/grafana/sipp-gateway.json';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
}

function rules(): Rule[] {
  const doc = parseYaml(readRepoFile(RULES)) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

function dashboardExprs(): string[] {
  const doc = JSON.parse(readRepoFile(DASHBOARD)) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  return doc.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

/** The sipp_gateway_* series names an expression reads (histogram suffixes folded into the family). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bsipp_gateway_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

/** Metric families a /metrics scrape declares (# TYPE lines). */
function exported(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

const promtool = await which('promtool');

describe('Prometheus alert rules', () => {
  test(
    'promtool check rules accepts alerts.yml',
    { skip: promtool ? false : 'promtool is not installed (Debian package prometheus)' },
    async () => {
      const { stdout } = await execFileAsync(promtool!, ['check', 'rules', repoPath(RULES)]);
      assert.match(stdout, new RegExp(`SUCCESS: ${rules().length} rules found`));
    },
  );

  test(
    'the rules fire on their unit-test series (promtool test rules)',
    { skip: promtool ? false : 'promtool is not installed (Debian package prometheus)' },
    async () => {
      const { stdout } = await execFileAsync(promtool!, ['test', 'rules', repoPath(RULE_TESTS)]);
      assert.match(stdout, /SUCCESS/);
    },
  );

  test('the documented alerts are the shipped ones', () => {
    const docs = readRepoFile('docs/operations.md');
    for (const r of rules()) assert.ok(docs.includes(`\`${r.alert}\``), `docs/operations.md documents ${r.alert}`);
  });
});

describe('every metric the rules and the Grafana dashboard use exists on a default gateway', () => {
  let fake: FakeOpenAI;
  let gw: TestGateway;
  let names: Set<string>;
  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway({
      toml: chatGatewayToml(fake.url),
      env: {
        TEST_ADMIN_PASSWORD: 'alerts-test-admin-password',
        T: 'alerts-test-token-0123456789',
        UPSTREAM_KEY: 'sk-upstream-alerts-0123456789',
      },
      processMetrics: true,
    });
    const scrape = await getText(`${gw.managementUrl}/metrics`);
    assert.equal(scrape.status, 200);
    names = exported(scrape.text);
  });
  after(async () => {
    await gw?.stop();
    await fake?.close();
  });

  test('alerts.yml', () => {
    const used = rules().flatMap((r) => metricNames(r.expr));
    assert.ok(used.length >= 5);
    assert.deepEqual([...new Set(used.filter((n) => !names.has(n)))], []);
  });

  test('the Grafana dashboard', () => {
    const used = dashboardExprs().flatMap(metricNames);
    assert.ok(used.length >= 10);
    assert.deepEqual([...new Set(used.filter((n) => !names.has(n)))], []);
  });

  test('readiness and the admission limit read as the rules expect', async () => {
    const { text } = await getText(`${gw.managementUrl}/metrics`);
    assert.match(text, /^sipp_gateway_ready 1$/m);
    // No max_concurrent_requests configured: 0, so the saturation rule never divides by it.
    assert.match(text, /^sipp_gateway_max_concurrent_requests 0$/m);
  });
});
