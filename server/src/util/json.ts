/** A JSON object as parsed from an untrusted body (request or upstream): every field is checked before use. */
export type Json = Record<string, unknown>;

/** A JSON object: not null, not an array. */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
