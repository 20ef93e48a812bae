/**
 * A newcomer's first hour, as the README tells it, on a fresh `git clone` of
 * this repository's committed HEAD (commit before running it):
 *   - `npm ci` installs without npm's allowScripts advisory and links
 *     `sipp-gateway`, which explains a missing build;
 *   - `npm start` builds and serves the demo on ports taken from the
 *     environment, answers the README's examples with the usage the README
 *     shows, and SIGTERM to npm drains the gateway and frees its ports;
 *   - the Configure section works as written: `npx sipp-gateway check` passes,
 *     `serve` refuses the placeholder secrets of .env.example by name;
 *   - `npx sipp-gateway serve` also stops, freeing its ports, on SIGTERM to npx.
 * It needs git and the npm registry (or npm's cache): `npm ci` installs about
 * 1.1 GB unless the cache already holds it (CI's own `npm ci` fills it).
 * `npm test` (scripts/test-all.sh) runs it last, alone and with its own file
 * timeout (`npm run test:fresh-clone -w server`): it builds a whole second checkout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../deployment/files.js';
import { parseSse } from '../support/http.js';
import { freePort, until } from '../support/wait.js';
import { waitForStatus } from '../support/cli.js';
import { portRefuses } from './ports.js';
import { run, start, userEnv, type Started } from './processes.js';
import { curlExamples, readmeCodeBlocks, readmeShellBlock } from './readme.js';

const LONG = { timeout: 600_000 };
const WHOLE = 900_000;

function gitHead(): string | null {
  try {
    return execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

const head = gitHead();

describe(
  'fresh clone: install, start, configure as the README says',
  { timeout: WHOLE, skip: head ? false : 'not a git checkout (or git is missing): nothing to clone' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipp-fresh-clone-'));
    const repo = join(dir, 'repo');
    const running: Started[] = [];
    const env = (extra: Record<string, string> = {}) => userEnv(extra);

    before(() => {
      execFileSync('git', ['clone', '--quiet', REPO_ROOT, repo], { stdio: 'ignore' });
    });
    after(() => {
      for (const p of running) p.killGroup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Starts a long-running command; SIGTERM goes to the npm/npx process itself, like `kill <pid>`. */
    function launch(command: string, args: string[], extra: Record<string, string>): Started {
      const p = start(command, args, { cwd: repo, env: env(extra) });
      running.push(p);
      return p;
    }

    /** Waits for `url` to answer 200, failing at once (with its output) if `p` exits first. */
    async function ready(url: string, p: Started, timeoutMs: number): Promise<void> {
      const gone = p.exited.then((code) => {
        throw new Error(`exited (${code}) before ${url} was ready:\n${p.output()}`);
      });
      gone.catch(() => {}); // observed by the race below
      await Promise.race([waitForStatus(url, 200, timeoutMs), gone]);
    }

    async function portsFreed(...ports: number[]): Promise<void> {
      await until(
        async () => (await Promise.all(ports.map((p) => portRefuses(p)))).every(Boolean),
        `ports ${ports.join(', ')} to be freed`,
        30_000,
      );
    }

    it('npm ci installs without an allowScripts advisory', LONG, async () => {
      const r = await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: repo, env: env() });
      assert.equal(r.code, 0, r.output);
      assert.doesNotMatch(r.output, /install-scripts|allowScripts|not yet covered/);
    });

    it('before a build, `npx sipp-gateway` exists and says to run `npm run build` first', LONG, async () => {
      // --no: never fetch a package of that name from the registry instead
      const r = await run('npx', ['--no', 'sipp-gateway', 'check', '--config', 'config/demo.toml'], { cwd: repo, env: env() });
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /the gateway is not built yet .*run `npm run build` first/);
      assert.doesNotMatch(r.output, /not found/);
    });

    it(
      'npm start serves the demo on the ports from the environment, answers the README examples, and stops on SIGTERM',
      LONG,
      async () => {
        const pub = await freePort();
        const mgmt = await freePort();
        const npm = launch('npm', ['start'], {
          SIPP_GATEWAY_PUBLIC_BIND: `127.0.0.1:${pub}`,
          SIPP_GATEWAY_MANAGEMENT_BIND: `127.0.0.1:${mgmt}`,
          SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5',
        });
        await ready(`http://127.0.0.1:${mgmt}/readyz`, npm, 480_000);
        const examples = curlExamples(readmeShellBlock(repo, 'Talk to it'));
        assert.ok(examples.length >= 5, 'the README shows query, stream, embed and management examples');
        for (const ex of examples) {
          const url = ex.url.replace('127.0.0.1:8080', `127.0.0.1:${pub}`).replace('127.0.0.1:9090', `127.0.0.1:${mgmt}`);
          const res = await fetch(url, ex.body === undefined ? {} : { method: 'POST', headers: ex.headers, body: ex.body });
          const text = await res.text();
          assert.equal(res.status, 200, `${ex.url}: ${text}`);
          const documented = ex.comment && /"usage":(\{[^}]*\})/.exec(ex.comment)?.[1];
          if (documented) {
            // The demo model samples, so an early </s> may shorten the answer; the prompt's token count is fixed.
            const shown = JSON.parse(documented);
            const got = JSON.parse(text).usage;
            assert.equal(got.input_tokens, shown.input_tokens, `README's usage for ${ex.body}`);
            assert.equal(shown.total_tokens, shown.input_tokens + shown.output_tokens, 'README usage adds up');
            assert.equal(shown.output_tokens, JSON.parse(ex.body!).max_tokens, 'README shows an answer cut at max_tokens');
            assert.ok(got.output_tokens <= shown.output_tokens);
          }
          if (ex.body?.includes('"stream":true')) assert.equal(parseSse(text).at(-1)?.event, 'done');
        }
        // The SDK snippets, exactly as the README shows them, as ES modules run by node
        // from the clone (where `npm ci` installed the official openai and @anthropic-ai/sdk packages).
        const snippets = readmeCodeBlocks(repo, '### With the OpenAI or Anthropic SDK', 'js');
        assert.equal(snippets.length, 2, 'the README shows an OpenAI and an Anthropic snippet');
        for (const [i, code] of snippets.entries()) {
          // Each snippet names the .mjs file it is run from (Node 20 runs top-level await there, not in .ts files).
          const name = /^\/\/ ([\w-]+\.mjs)\n/.exec(code)?.[1];
          assert.ok(name, `README SDK snippet ${i} starts with the .mjs file name it runs as:\n${code}`);
          const file = join(repo, name);
          writeFileSync(file, code.replaceAll('127.0.0.1:8080', `127.0.0.1:${pub}`));
          const r = await run('node', [file], { cwd: repo, env: env() });
          assert.equal(r.code, 0, `README SDK snippet ${i}:\n${code}\n${r.output}`);
          assert.ok(r.output.trim().length > 0, `README SDK snippet ${i} printed nothing`);
        }
        npm.child.kill('SIGTERM');
        await portsFreed(pub, mgmt);
        await npm.exited;
        assert.match(npm.output(), /SIGTERM received, draining/);
      },
    );

    it('the Configure section works as written; serve refuses the .env.example placeholders by name', LONG, async () => {
      const lines = readmeShellBlock(repo, 'Configure').map((l) => l.replace(/\bnpx sipp-gateway\b/g, 'npx --no sipp-gateway'));
      const serveLine = lines.findIndex((l) => / serve /.test(l));
      assert.ok(serveLine > 0, 'the Configure block ends with serve');
      const setup = await run('sh', ['-ec', lines.slice(0, serveLine).join('\n')], { cwd: repo, env: env() });
      assert.equal(setup.code, 0, setup.output);
      assert.match(setup.output, /configuration is valid: gateway\.toml/);
      const serve = await run('sh', ['-c', lines[serveLine]!], { cwd: repo, env: env() });
      assert.equal(serve.code, 1, serve.output);
      assert.match(
        serve.output,
        /environment variable SIPP_GATEWAY_ADMIN_PASSWORD \(admin_password_env\) still holds the placeholder value from \.env\.example/,
      );
      assert.doesNotMatch(serve.output, /replace-with-/);
    });

    it('npx sipp-gateway serve drains and frees its ports on SIGTERM to npx', LONG, async () => {
      const pub = await freePort();
      const mgmt = await freePort();
      const npx = launch('npx', ['--no', 'sipp-gateway', 'serve', '--config', 'config/demo.toml'], {
        SIPP_GATEWAY_TOKEN: 'fresh-clone-token-1',
        SIPP_GATEWAY_ADMIN_PASSWORD: 'fresh-clone-admin-pw',
        SIPP_GATEWAY_PUBLIC_BIND: `127.0.0.1:${pub}`,
        SIPP_GATEWAY_MANAGEMENT_BIND: `127.0.0.1:${mgmt}`,
        SIPP_GATEWAY_SHUTDOWN_GRACE_SECONDS: '5',
      });
      await ready(`http://127.0.0.1:${mgmt}/readyz`, npx, 120_000);
      npx.child.kill('SIGTERM');
      await portsFreed(pub, mgmt);
      await npx.exited;
    });
  },
);
