/**
 * One process at a time on an embedded database directory (docs/keys.md#cli):
 * PGlite has no lock of its own, and two processes writing one data directory
 * would corrupt it. `<dir>.lock` holds the owner's pid, created exclusively;
 * a lock whose process is gone (a SIGKILLed gateway) is taken over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { DatabaseInUseError } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `dir` or throws DatabaseInUseError; returns its release. */
export function lockDirectory(dir: string): () => void {
  const path = `${dir}.lock`;
  const mine = `${process.pid}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, mine, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      let pid = NaN;
      try {
        pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // Removed meanwhile: try again.
      }
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new DatabaseInUseError(dir, pid);
      try {
        unlinkSync(path);
      } catch {
        // Someone else took it over first; the next attempt says who.
      }
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
}
