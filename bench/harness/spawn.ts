/**
 * Starts a child process for one job (child.ts) and gives back its result, its events, and a way
 * to stop it. The child's stdout and stderr are kept (the last 64 KiB) for the error message if
 * it fails; otherwise they are dropped.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PevmeterError } from '../../schemas/errors.js';
import type { ChildJob, FromChild, ToChild } from './protocol.js';

/** child.js beside this module when compiled, child.ts when running from source under tap. */
export function childFile(): string {
  const js = fileURLToPath(new URL('./child.js', import.meta.url));
  if (existsSync(js)) return js;
  return fileURLToPath(new URL('./child.ts', import.meta.url));
}

export interface ChildHandle<R> {
  readonly pid: number;
  result: Promise<R>;
  /** Resolves when the process is gone (profiles are written at exit). */
  exited: Promise<void>;
  /** Resolves with the event's data the first time the child sends it. */
  event(name: string): Promise<Record<string, unknown>>;
  /** Calls `fn` with every event of that name from now on (events the child sends repeatedly). */
  onEvent(name: string, fn: (data: Record<string, unknown>) => void): void;
  stop(): void;
}

const TAIL = 64 * 1024;

/** A failure of the benchmark itself (a child that crashed, a run that did not verify). */
export function benchError(message: string): PevmeterError {
  return new PevmeterError('PEV_INPUT', `bench: ${message}`);
}

export function startChild<R>(job: ChildJob, o: { timeoutMs: number; execArgv?: string[]; label: string }): ChildHandle<R> {
  const child = fork(childFile(), [], {
    execArgv: [...process.execArgv, ...(o.execArgv ?? [])],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const events = new Map<string, Record<string, unknown>>();
  const waiting = new Map<string, ((d: Record<string, unknown>) => void)[]>();
  const listeners = new Map<string, ((d: Record<string, unknown>) => void)[]>();
  let settled = false;
  const result = new Promise<R>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(benchError(`${o.label}: child did not finish within ${o.timeoutMs} ms\n${tail}`));
    }, o.timeoutMs);
    child.on('message', (msg: FromChild) => {
      if (msg.type === 'event') {
        events.set(msg.name, msg.data);
        for (const fn of listeners.get(msg.name) ?? []) fn(msg.data);
        for (const fn of waiting.get(msg.name) ?? []) fn(msg.data);
        waiting.delete(msg.name);
      } else if (msg.type === 'result' && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve(msg.result as R);
      } else if (msg.type === 'error' && !settled) {
        settled = true;
        clearTimeout(timer);
        reject(benchError(`${o.label}: ${msg.message}\n${tail.slice(-4096)}`));
      }
    });
    child.on('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(benchError(`${o.label}: child exited (code ${String(code)}, signal ${String(signal)}) without a result\n${tail.slice(-4096)}`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  child.send({ type: 'job', job } satisfies ToChild);
  return {
    pid: child.pid ?? 0,
    result,
    exited,
    event(name) {
      const got = events.get(name);
      if (got) return Promise.resolve(got);
      return new Promise((resolve) => {
        const list = waiting.get(name) ?? [];
        list.push(resolve);
        waiting.set(name, list);
      });
    },
    onEvent(name, fn) {
      const list = listeners.get(name) ?? [];
      list.push(fn);
      listeners.set(name, list);
    },
    stop() {
      if (child.connected) child.send({ type: 'stop' } satisfies ToChild);
    },
  };
}
