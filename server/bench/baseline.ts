/**
 * An older checkout for the bench (`BENCH_BASELINE=<git ref>`): the ref is
 * checked out in a temporary git worktree, its `shared` and `server/src` are built
 * with this checkout's TypeScript and dependencies (its `@sipp/shared` is its
 * own), and the bench starts its CLI beside this build's, so both are measured
 * in the same run, round for round.
 *
 * The worktree is kept (and reused while its build is there) with
 * BENCH_BASELINE_KEEP=1, else removed at the end of the run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Baseline {
  ref: string;
  /** Abbreviated commit. */
  commit: string;
  /** Its gateway CLI (`server/dist/src/cli.js`). */
  cli: string;
  remove(): void;
}

const git = (args: string[], cwd = REPO_ROOT) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

export function buildBaseline(ref: string): Baseline {
  const sha = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const commit = sha.slice(0, 12);
  const dir = join(tmpdir(), `sipp-bench-baseline-${commit}`);
  const cli = join(dir, 'server/dist/src/cli.js');
  if (!existsSync(join(dir, '.git'))) {
    process.stderr.write(`bench: checking out ${ref} (${commit}) in ${dir}\n`);
    git(['worktree', 'add', '--force', '--detach', dir, sha]);
  }
  // Its dependencies are this checkout's, except the workspace package it builds itself.
  const modules = join(dir, 'node_modules');
  if (!existsSync(modules)) {
    mkdirSync(join(modules, '@sipp'), { recursive: true });
    for (const name of readdirSync(join(REPO_ROOT, 'node_modules'))) {
      if (name === '@sipp') continue;
      symlinkSync(join(REPO_ROOT, 'node_modules', name), join(modules, name));
    }
    symlinkSync('../../shared', join(modules, '@sipp/shared'));
  }
  if (!existsSync(cli)) {
    process.stderr.write(`bench: building ${ref} (${commit})\n`);
    // shared, then the server's sources only (not its tests and bench): half the compile time.
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    writeFileSync(
      join(dir, 'server/tsconfig.bench-baseline.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        include: ['src'],
        compilerOptions: { tsBuildInfoFile: 'dist/baseline.tsbuildinfo' },
      }),
    );
    for (const args of [
      ['-b', 'shared'],
      ['-p', 'server/tsconfig.bench-baseline.json'],
    ]) {
      execFileSync(process.execPath, [tsc, ...args], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
    }
  }
  return {
    ref,
    commit,
    cli,
    remove() {
      if (process.env.BENCH_BASELINE_KEEP === '1') return;
      try {
        git(['worktree', 'remove', '--force', dir]);
      } catch {
        /* already gone */
      }
    },
  };
}
