/**
 * Files the command line writes for people (the HTML report, the billing export). Three rules:
 *
 *   - a symbolic link is refused, --force or not: `--report link.html` must not replace the file
 *     the link points to (a link planted in a shared folder would aim the write anywhere);
 *   - an existing file is refused unless --force: an export is evidence of what was billed;
 *   - the content goes to a temporary file in the same folder, flushed, then put in place in one
 *     step (a hard link, which fails if the name appeared meanwhile; with --force a rename, which
 *     replaces the name itself and never follows a link), so a crash never leaves half a file.
 *
 * `checkOutput` runs before any work, so a refused name costs nothing (an export is not frozen
 * in the store for a file that was never written); `writeOutput` checks again when it writes.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PevmeterError } from '../schemas/errors.js';

export interface OutputOptions {
  /** Replace an existing regular file. */
  force: boolean;
  /** The flag that named the file, for the message (e.g. `--report`). */
  flag: string;
}

/** Throws PEV_INPUT unless `path` may be written under `o`. */
export function checkOutput(path: string, o: OutputOptions): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  if (st.isSymbolicLink()) throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)} is a symbolic link; pevmeter does not write through links: give the file's own path`);
  if (!st.isFile()) throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)} exists and is not a regular file`);
  if (!o.force) throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)} exists; pass --force to replace it`);
}

/** Writes `data` to `path` under the rules above. */
export function writeOutput(path: string, data: string | Uint8Array, o: OutputOptions): void {
  checkOutput(path, o);
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    // wx = O_CREAT|O_EXCL: a name that exists, a planted link included, is never opened.
    fd = openSync(tmp, 'wx', 0o644);
  } catch (err) {
    throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)}: cannot create a file in its folder: ${(err as Error).message}`);
  }
  try {
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (o.force) {
      renameSync(tmp, path);
    } else {
      linkSync(tmp, path);
      unlinkSync(tmp);
    }
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed, or never made
    }
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)} appeared while it was written; pass --force to replace it`);
    if (err instanceof PevmeterError) throw err;
    throw new PevmeterError('PEV_INPUT', `${o.flag} ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
}
