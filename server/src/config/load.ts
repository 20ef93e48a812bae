import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigSchema, type GatewayConfig } from './schema.js';
import { fieldPath } from '../util/field-path.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}


function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length ? ` in ${fieldPath(issue.path)}` : '';
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}`;
  }
  if (issue.code === 'invalid_union' && (issue as { note?: string }).note === 'No matching discriminator') {
    const path = issue.path.at(-1) === 'type' ? issue.path : [...issue.path, 'type'];
    return `${fieldPath(path)}: must be one of "local", "openai", "openai_compatible", "anthropic"`;
  }
  return `${fieldPath(issue.path)}: ${issue.message}`;
}

/** Validates an already-parsed TOML document. Throws ConfigError naming the first bad field. */
export function validateConfig(doc: unknown): GatewayConfig {
  const result = ConfigSchema.safeParse(doc);
  if (!result.success) {
    const first = result.error.issues[0]!;
    throw new ConfigError(describeIssue(first));
  }
  return result.data;
}

export function parseConfigText(text: string): GatewayConfig {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      // smol-toml's message quotes the offending source line; keep only the position
      // so a mistyped secret pasted into the TOML is not echoed back.
      throw new ConfigError(`invalid TOML at line ${err.line}, column ${err.column}`);
    }
    throw new ConfigError('invalid TOML');
  }
  return validateConfig(doc);
}

export async function loadConfigFile(path: string): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read config file ${path} (${code})`);
  }
  return parseConfigText(text);
}
