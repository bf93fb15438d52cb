/**
 * How the benchmark's child processes talk to the parent: JSON lines on stdout, one object per
 * line with an `event` field; anything else on stdout is ignored, logs go to stderr. Each system
 * runs in a child of its own because chDB binds one data folder per process, and because a child
 * can be SIGKILLed and restarted on the same folder (the exactness run).
 *
 *   {"event":"ready", ...}       tables created / service consuming
 *   {"event":"progress", ...}    about every 250 ms: messages read and rows queryable so far
 *   {"event":"done", ...}        the result; the process exits right after
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** What one run of a consumer process reports when it finishes. */
export interface ChildResult {
  event: 'done';
  system: 'peer' | 'ours';
  /** Epoch ms: first poll that saw a message read by this process (resolution: the poll interval). */
  firstReadMs: number | null;
  /** Epoch ms: the last message count change seen (0 when nothing was read). */
  lastReadMs: number | null;
  /** Epoch ms: first poll that saw `target` records queryable (null when the target was not the goal or not reached). */
  queryableMs: number | null;
  /** Records queryable at the end (every stored delivery, duplicates included). */
  rows: number;
  messagesRead: number;
  target: number;
  /** (queryableMs - firstReadMs) / 1000, and target over it; null without both times. */
  seconds: number | null;
  recordsPerSec: number | null;
  /** CPU seconds of the whole process (every thread) between first read and queryable, and in all. */
  cpuSeconds: number | null;
  cpuSecondsTotal: number;
  /** Peak resident set, MiB. */
  maxRssMiB: number;
  /** How the run ended: the target reached, the group drained, or the time limit. */
  reason: 'target' | 'drained' | 'timeout';
  /** Extra facts (the peer's flush settings, the service's summary...). */
  info: Record<string, unknown>;
}

export interface ChildProgress {
  event: 'progress';
  atMs: number;
  messagesRead: number;
  rows: number;
}

export type ChildEvent = ChildResult | ChildProgress | { event: 'ready'; atMs: number; [k: string]: unknown };

/** Child side: one event per line on stdout. */
export function emit(event: ChildEvent): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

/** Child side: `--name value` flags into a map (every flag takes a value). */
export function parseFlags(argv: readonly string[], known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    const name = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !known.includes(name)) throw new Error(`unknown flag ${flag}; known: ${known.map((k) => '--' + k).join(', ')}`);
    if (value === undefined) throw new Error(`${flag} needs a value`);
    out.set(name, value);
  }
  return out;
}

export function required(flags: Map<string, string>, name: string): string {
  const v = flags.get(name);
  if (v === undefined || v === '') throw new Error(`--${name} is required`);
  return v;
}

export function intFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got ${raw}`);
  return n;
}

/**
 * The command that runs a sibling entry module: the compiled `.js` next to this file under dist/,
 * or, when running from TypeScript source (the tap tests), the `.ts` file through the same
 * loader flags this process was started with.
 */
export function entryCommand(name: 'peer-process' | 'ours-process'): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  const file = join(dirname(here), name + ext);
  if (!existsSync(file)) throw new Error(`${file} is missing; run npm run build first`);
  const loader = ext === '.ts' ? process.execArgv.filter((a) => a.startsWith('--import') || a.startsWith('--loader') || a === '--enable-source-maps') : [];
  return { command: process.execPath, args: [...loader, file] };
}

export interface RunningChild {
  readonly child: ChildProcess;
  /** Resolves with the `done` event, or rejects when the process exits without one. */
  readonly result: Promise<ChildResult>;
  /** Latest progress seen. */
  progress(): ChildProgress | undefined;
  /** Resolves when a progress event satisfies `pred` (rejects if the process ends first). */
  until(pred: (p: ChildProgress) => boolean): Promise<ChildProgress>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Last lines of stderr, for error messages. */
  stderrTail(): string;
}

/** Parent side: starts an entry with flags and follows its events. */
export function startChild(name: 'peer-process' | 'ours-process', flags: Record<string, string | number>, env: NodeJS.ProcessEnv = process.env): RunningChild {
  const { command, args } = entryCommand(name);
  const argv = [...args];
  for (const [k, v] of Object.entries(flags)) argv.push(`--${k}`, String(v));
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let latest: ChildProgress | undefined;
  let done: ChildResult | undefined;
  const waiters: { pred: (p: ChildProgress) => boolean; resolve: (p: ChildProgress) => void; reject: (e: Error) => void }[] = [];
  const tail: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    tail.push(chunk);
    while (tail.length > 40) tail.shift();
    if (process.env['PEV_BENCH_VERBOSE']) process.stderr.write(`[${name}] ${chunk}`);
  });
  const lines = createInterface({ input: child.stdout });
  const linesClosed = new Promise<void>((r) => lines.once('close', () => r()));
  lines.on('line', (line) => {
    if (!line.startsWith('{')) return;
    let ev: ChildEvent;
    try {
      ev = JSON.parse(line) as ChildEvent;
    } catch {
      return;
    }
    if (ev.event === 'progress') {
      latest = ev;
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i]!;
        if (w.pred(ev)) {
          waiters.splice(i, 1);
          w.resolve(ev);
        }
      }
    } else if (ev.event === 'done') {
      done = ev;
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stderrTail = () => tail.join('').split('\n').slice(-25).join('\n');
  const result = exited.then(async ({ code, signal }) => {
    // stdout may still hold the last line when 'exit' fires.
    await linesClosed;
    for (const w of waiters.splice(0)) w.reject(new Error(`${name} exited (code ${code}, signal ${signal}) before the awaited progress`));
    if (done) return done;
    throw new Error(`${name} exited (code ${code}, signal ${signal}) without a result:\n${stderrTail()}`);
  });
  // A caller that only kills the child never awaits `result`; keep its rejection from going unhandled.
  result.catch(() => undefined);
  return {
    child,
    result,
    progress: () => latest,
    until: (pred) =>
      new Promise<ChildProgress>((resolve, reject) => {
        if (latest && pred(latest)) return resolve(latest);
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`${name} is not running`));
        waiters.push({ pred, resolve, reject });
      }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stderrTail,
  };
}
