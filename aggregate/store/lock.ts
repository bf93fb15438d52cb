/**
 * chDB, like a ClickHouse server, locks its folder's `status` file for as long as a process has
 * the folder open; a second process gets "Cannot lock file <dir>/status". The file itself says who
 * holds it:
 *
 *   PID: 16051
 *   Started at: 2026-12-05 07:07:18
 *   Revision: 54513
 *
 * so the error can name the process (and, on Linux, its command line) and say what to do. chDB
 * prints the lock message on stderr itself but throws only "Failed to create connection": a live
 * process other than this one in the status file is the sign.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors.js';

export interface LockHolder {
  pid: number;
  startedAt?: string;
  /** The holder's command line, when /proc shows it. */
  command?: string;
}

/** Who holds the folder's lock, as far as its status file and /proc tell. */
export function lockHolder(dir: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'status'), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(/^PID: (\d+)$/m.exec(text)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const holder: LockHolder = { pid };
  const started = /^Started at: (.+)$/m.exec(text)?.[1];
  if (started !== undefined) holder.startedAt = started.trim();
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '').join(' ');
    if (cmd !== '') holder.command = cmd.length > 200 ? cmd.slice(0, 200) + '...' : cmd;
  } catch {
    // Not Linux, or the process is gone (then the next attempt succeeds).
  }
  return holder;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A PEV_STORE_LOCKED error when chDB refused a folder that another live process holds; else undefined. */
export function lockedStoreError(dir: string, err: unknown): StoreError | undefined {
  const h = lockHolder(dir);
  if (h === undefined || h.pid === process.pid || !alive(h.pid)) return undefined;
  const who = `process ${h.pid}${h.command !== undefined ? ` (${h.command})` : ''}${h.startedAt !== undefined ? `, which opened it at ${h.startedAt}` : ''}`;
  return new StoreError(
    'PEV_STORE_LOCKED',
    `the embedded store folder ${dir} is in use by ${who}; one process at a time can open it: ` +
      'wait for that process to finish or stop it, or give this command another folder (--data DIR), ' +
      'or share the data through a ClickHouse server (--clickhouse-url)',
    true,
    err,
  );
}
