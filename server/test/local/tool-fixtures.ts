/**
 * Function-tool fixtures shared by the tool tests on a local target
 * (docs/local-models.md#tools, docs/api.md#tools-on-v1chat): two tools in the
 * neutral `{name, description, parameters}` shape, the check that a call's
 * arguments follow their schema, and a gateway on the generated demo model.
 */
import assert from 'node:assert/strict';
import { BASE_TOML } from '../support/gateway.js';
import { demoTargetToml } from './models.js';

export const WEATHER = {
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city', 'days', 'unit'],
  },
};

export const TIME = {
  name: 'get_time',
  description: 'The time in a time zone',
  parameters: {
    type: 'object',
    properties: { zone: { type: 'string' }, seconds: { type: 'boolean' } },
    required: ['zone', 'seconds'],
  },
};

export type ToolFixture = typeof WEATHER | typeof TIME;

/** The arguments satisfy the tool's schema: every required property, with its type (and enum). */
export function assertToolArguments(name: string, args: any): void {
  assert.equal(typeof args, 'object', JSON.stringify(args));
  if (name === 'get_weather') {
    assert.equal(typeof args.city, 'string', JSON.stringify(args));
    assert.ok(Number.isInteger(args.days), JSON.stringify(args));
    assert.ok(['c', 'f'].includes(args.unit), JSON.stringify(args));
  } else {
    assert.equal(name, 'get_time');
    assert.equal(typeof args.zone, 'string', JSON.stringify(args));
    assert.equal(typeof args.seconds, 'boolean', JSON.stringify(args));
  }
}

/**
 * A gateway config with one token (its secret in the variable `T`, caller
 * `tests`) and the demo model as target `demo` (one sequence, one thread),
 * followed by `more` (other targets).
 */
export function demoToolsToml(more = ''): string {
  return `${BASE_TOML}
[[tokens]]
env = "T"
caller = "tests"
${demoTargetToml({ context_size: 2048, parallel: 1, threads: 1, default_max_tokens: 64 })}${more}`;
}
