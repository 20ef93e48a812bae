/**
 * The memory backend's optional durability: the controls document in one JSON
 * file, rewritten atomically on every change (temp file in the same folder,
 * fsync, rename over the old file, fsync the folder) and read back at start.
 * A file that cannot be read, parsed or written is a start-up error: the
 * gateway never silently starts without an operator's controls.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StartupError } from '../errors.js';
import { parseControlsDoc, type ControlsDoc } from './controls.js';

const tempName = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);

/** Reads the stored document; null when the file does not exist yet. */
export function readControlsFile(path: string): ControlsDoc | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StartupError(`[state] file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return parseControlsDoc(JSON.parse(text));
  } catch (err) {
    throw new StartupError(
      `[state] file ${path} is corrupt (${(err as Error).message}); fix it, or move it away to start from the TOML defaults`,
    );
  }
}

/** Synchronous atomic write, used once at start to prove the file is writable. */
export function writeControlsFileSync(path: string, doc: ControlsDoc): void {
  const tmp = tempName(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(doc, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    syncDir(dirname(path));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new StartupError(`[state] file ${path} cannot be written (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

export async function writeControlsFile(path: string, doc: ControlsDoc): Promise<void> {
  const tmp = tempName(path);
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(doc, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    syncDir(dirname(path));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
