/**
 * Where the tests run from: compiled (server/dist/test/…, what `npm test` and CI run) or from source
 * (server/test/…, `npm run test:one`, see README.md#developer-loop). Repository paths and the command
 * that runs the CLI derive from it, so a test reads the same either way.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** True when this file is the TypeScript source (run through tsx), false when it is compiled. */
export const FROM_SOURCE = here.endsWith('.ts');
/** The server package (server/). */
export const SERVER_ROOT = resolve(dirname(here), FROM_SOURCE ? '../..' : '../../..');
/** The repository root. */
export const REPO_ROOT = resolve(SERVER_ROOT, '..');
/** The CLI entry point: the compiled one, or its source when the tests run from source. */
export const CLI = join(SERVER_ROOT, FROM_SOURCE ? 'src/cli.ts' : 'dist/src/cli.js');
/**
 * Node arguments that go before CLI (or any test script) in a child process: from source, the tsx loader
 * (an absolute URL, so any working directory works) and the `source` export condition under which
 * `@sipp/shared` resolves to its TypeScript source; nothing when compiled.
 */
export const NODE_ARGS: string[] = FROM_SOURCE ? ['--import', import.meta.resolve('tsx'), '--conditions=source'] : [];
