/**
 * The Dockerfile's invariants, linted without a Docker engine: non-root USER,
 * production dependencies only, the `serve` command and readiness
 * healthcheck, no secret baked in; and .dockerignore keeps secrets and host
 * artefacts out of the build context.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dockerfileProblems, dockerignoreProblems, execForm, parseDockerfile, type ImageExpectations } from './dockerfile.js';
import { exampleConfigs, loadExampleConfig, readRepoFile, secretEnvNames } from './files.js';

const secretNames = [...new Set(exampleConfigs().flatMap((f) => secretEnvNames(loadExampleConfig(f))))];
const EXPECT: ImageExpectations = {
  nodeImage: 'node:20-bookworm-slim',
  command: ['sipp-gateway', 'serve', '--config', '/etc/sipp/gateway.toml'],
  ports: [8080, 9090],
  readinessUrl: 'http://127.0.0.1:9090/readyz',
  secretNames,
};

const text = readRepoFile('Dockerfile');

describe('Dockerfile', () => {
  test('keeps every image promise', () => {
    assert.deepEqual(dockerfileProblems(parseDockerfile(text), EXPECT), []);
  });

  test('is multi-stage, with a CPU default and a CUDA runtime built on request', () => {
    const df = parseDockerfile(text);
    const names = df.stages.map((s) => s.name);
    assert.ok(df.stages.length >= 3, 'build, dependency and runtime stages');
    assert.equal(names.at(-1), 'runtime');
    const cuda = df.stages.find((s) => s.name === 'runtime-cuda');
    assert.ok(cuda, 'a runtime-cuda target for GPU hosts');
    assert.match(cuda.base, /^nvidia\/cuda:\S+-runtime-/);
  });

  test('the CPU image drops GPU builds of llama.cpp; the CUDA image keeps the CUDA build', () => {
    const df = parseDockerfile(text);
    const runOf = (name: string) =>
      df.stages
        .find((s) => s.name === name)!
        .instructions.filter((i) => i.keyword === 'RUN')
        .map((i) => i.args)
        .join('\n');
    assert.match(runOf('prod-deps-cpu'), /@node-llama-cpp/);
    assert.doesNotMatch(runOf('prod-deps-cpu'), /cuda/);
    assert.match(runOf('prod-deps-cuda'), /"\$arch-cuda"/);
  });

  test('installs without lifecycle scripts (llama.cpp comes prebuilt, never compiled in the image)', () => {
    const df = parseDockerfile(text);
    const installs = df.stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN' && /npm (ci|install)\b/.test(i.args));
    assert.ok(installs.length >= 2);
    for (const i of installs) {
      assert.match(i.args, /npm ci\b/, `line ${i.line} uses the lockfile`);
      assert.match(i.args, /--ignore-scripts\b/, `line ${i.line}`);
    }
  });

  test('the sipp-gateway wrapper execs node on the built CLI (signals reach node directly)', () => {
    assert.match(text, /exec node \/app\/server\/dist\/src\/cli\.js "\$@"/);
  });
});

describe('Dockerfile invariant checker rejects each broken promise', () => {
  const cases: Array<[string, (t: string) => string, RegExp]> = [
    ['no USER', (t) => t.replace(/^USER .*$/gm, ''), /no USER instruction/],
    ['USER root', (t) => t.replace(/^USER .*$/gm, 'USER root'), /USER is root/],
    ['USER 0', (t) => t.replace(/^USER .*$/gm, 'USER 0:0'), /USER is 0:0/],
    [
      'ENV with a secret',
      (t) => t.replace('ENV NODE_ENV=production', 'ENV NODE_ENV=production OPENAI_API_KEY=sk-123'),
      /ENV OPENAI_API_KEY bakes a secret/,
    ],
    [
      'ARG with a secret-looking name',
      (t) => t.replace('ARG NODE_IMAGE=', 'ARG NPM_TOKEN=abc\nARG NODE_IMAGE='),
      /ARG NPM_TOKEN bakes a secret/,
    ],
    ['copying .env', (t) => t.replace('COPY shared/ shared/', 'COPY .env ./\nCOPY shared/ shared/'), /copies a \.env file/],
    [
      'dev dependencies in the runtime',
      (t) => t.replace(/COPY --from=prod-deps-cpu \/app\/node_modules/, 'COPY --from=build /src/node_modules'),
      /do not come from an "npm ci --omit=dev" stage/,
    ],
    ['prod stage without --omit=dev', (t) => t.replace('--omit=dev ', ''), /do not come from an "npm ci --omit=dev" stage/],
    [
      'runtime copying the build context',
      (t) => t.replace(/(FROM \$\{NODE_IMAGE\} AS runtime\n)/, '$1COPY . /app\n'),
      /COPY from the build context/,
    ],
    ['another command', (t) => t.replace(/CMD \["serve"/g, 'CMD ["check"'), /runs \["sipp-gateway","check"/],
    [
      'shell-form entrypoint',
      (t) => t.replace(/ENTRYPOINT \["sipp-gateway"\]/g, 'ENTRYPOINT sipp-gateway'),
      /ENTRYPOINT in shell form/,
    ],
    ['port not exposed', (t) => t.replace(/EXPOSE 8080 9090/g, 'EXPOSE 8080'), /does not EXPOSE 9090/],
    [
      'healthcheck with curl',
      (t) => t.replace(/CMD \["node", "-e", "fetch[^\n]*/g, 'CMD ["curl", "-f", "http://127.0.0.1:9090/readyz"]'),
      /HEALTHCHECK must use node/,
    ],
    [
      'healthcheck on the wrong route',
      (t) => t.replaceAll('9090/readyz', '9090/healthz'),
      /HEALTHCHECK does not probe http:\/\/127\.0\.0\.1:9090\/readyz/,
    ],
    ['no healthcheck', (t) => t.replace(/HEALTHCHECK[^\n]*\\\n[^\n]*\n/g, ''), /no HEALTHCHECK/],
    [
      'another base image',
      (t) => t.replace('ARG NODE_IMAGE=node:20-bookworm-slim', 'ARG NODE_IMAGE=node:20-alpine'),
      /based on "node:20-alpine"/,
    ],
    [
      'admin-web not built',
      (t) => t.replace('npm run build -w shared -w server -w admin-web', 'npm run build -w shared -w server'),
      /does not build workspace admin-web/,
    ],
    ['a non-runtime default stage', (t) => `${t}\nFROM runtime AS debug\nUSER root\n`, /the last \(default\) stage is "debug"/],
  ];
  for (const [name, mutate, problem] of cases) {
    test(name, () => {
      const broken = mutate(text);
      assert.notEqual(broken, text, 'the mutation applies to the current Dockerfile');
      const problems = dockerfileProblems(parseDockerfile(broken), EXPECT);
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem} in ${JSON.stringify(problems)}`,
      );
    });
  }
});

describe('Dockerfile reader', () => {
  test('joins continuations, skips comments, substitutes global ARGs in FROM', () => {
    const df = parseDockerfile(
      '# c\nARG BASE=debian:12\nFROM ${BASE} AS one\nRUN a \\\n  # inside\n  && b\nFROM one\nCMD ["x", "y"]\n',
    );
    assert.equal(df.stages[0]!.base, 'debian:12');
    assert.equal(df.stages[0]!.name, 'one');
    assert.equal(df.stages[0]!.instructions[0]!.args, 'a && b');
    assert.equal(df.stages[1]!.base, 'one');
    assert.deepEqual(execForm(df.stages[1]!.instructions[0]!.args), ['x', 'y']);
    assert.deepEqual(execForm('serve now'), ['/bin/sh', '-c', 'serve now']);
  });
});

describe('.dockerignore', () => {
  test('keeps secrets, models and host build output out of the build context', () => {
    assert.deepEqual(dockerignoreProblems(readRepoFile('.dockerignore')), []);
  });
  test('the checker notices a missing exclusion and a re-included .env', () => {
    const text = readRepoFile('.dockerignore');
    assert.ok(dockerignoreProblems(text.replace(/^\.env$/m, '')).includes('.dockerignore does not exclude .env'));
    assert.ok(dockerignoreProblems(`${text}\n!.env\n`).includes('.dockerignore re-includes .env'));
    assert.ok(dockerignoreProblems(text.replace(/^models$/m, '')).includes('.dockerignore does not exclude models'));
  });
});
