/**
 * Was the machine quiet while a benchmark ran? A figure from a busy machine is not a figure: two
 * cores shared with a compiler or another test run move wall-time results by half. This watches
 * two things and says whether the run may be published (`quietDecision`):
 *
 *   other processes' CPU        the primary measure: all CPU the machine spent during the run
 *                               (/proc/stat), minus the CPU of the benchmark's own processes: the
 *                               process tree under `rootPid` (children that exited are in their
 *                               parent's cutime and cstime) and the services the run drives (the
 *                               Kafka broker, a ClickHouse server), given as `servicePids`.
 *                               Against `maxOtherCores` (default 0.15 of one core on average).
 *   load average at the start   secondary: the 1-minute load, against `maxStartLoad` (default
 *                               1.0). It is an exponential average over the last minute or more,
 *                               so it lags: it is still high a minute after a previous run ended,
 *                               and it counts the run's own processes. When the CPU of others was
 *                               measured, a high start load is reported as a note and does not
 *                               decide; it decides only where the CPU cannot be measured.
 *
 * Linux only (/proc); elsewhere the CPU measure is missing and the run is not publishable.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../schemas/index.js';

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 on every Linux ABI Node.js runs on). */
const TICKS_PER_S = 100;

export interface QuietOptions {
  /** The benchmark's root process (default: this process). */
  rootPid?: number;
  /** Processes outside the tree whose CPU is the benchmark's own (the broker, a server). */
  servicePids?: readonly number[];
  maxStartLoad?: number;
  maxOtherCores?: number;
}

export interface QuietVerdict {
  publishable: boolean;
  /** 1, 5 and 15-minute load averages when the watch started. */
  loadAverageAtStart: number[];
  seconds: number;
  /** CPU seconds the whole machine spent (every core, every process). */
  machineCpuSeconds: number;
  /** CPU seconds of the benchmark's processes and services. */
  ownCpuSeconds: number;
  /** CPU seconds of everything else: machineCpuSeconds - ownCpuSeconds, at least 0. */
  otherCpuSeconds: number;
  /** otherCpuSeconds per second of the run: 1.0 is one core kept busy by others throughout. */
  otherCores: number;
  /** Why the run is not publishable (empty when it is). */
  reasons: string[];
  /** What was noticed but did not decide (a lagging load average). */
  notes?: string[];
}

/** What `quietDecision` weighs: the run's measurements. */
export interface QuietInputs {
  /** 1-minute load average when the run started. */
  loadAtStart: number;
  seconds: number;
  /** CPU seconds other processes used during the run; undefined when it cannot be measured (no /proc). */
  otherCpuSeconds: number | undefined;
}

export interface QuietLimits {
  maxStartLoad: number;
  maxOtherCores: number;
}

/**
 * The verdict, from measurements alone (no clock, no /proc): the CPU other processes used is the
 * primary measure; the start load average decides only when that CPU could not be measured, and
 * is otherwise a note when it is over its limit.
 */
export function quietDecision(i: QuietInputs, l: QuietLimits): { publishable: boolean; otherCores: number; reasons: string[]; notes: string[] } {
  const reasons: string[] = [];
  const notes: string[] = [];
  const loadHigh = i.loadAtStart > l.maxStartLoad;
  if (i.otherCpuSeconds === undefined) {
    reasons.push('no /proc: the CPU of other processes cannot be measured here');
    if (loadHigh) reasons.push(`load average ${i.loadAtStart} at the start (over ${l.maxStartLoad})`);
    return { publishable: false, otherCores: 0, reasons, notes };
  }
  const otherCores = i.seconds > 0 ? i.otherCpuSeconds / i.seconds : 0;
  if (otherCores > l.maxOtherCores) {
    reasons.push(`other processes used ${i.otherCpuSeconds.toFixed(1)} CPU s in ${i.seconds.toFixed(0)} s (${otherCores.toFixed(2)} cores on average, over ${l.maxOtherCores})`);
    if (loadHigh) notes.push(`the load average was ${i.loadAtStart} at the start (over ${l.maxStartLoad})`);
  } else if (loadHigh) {
    notes.push(
      `load average ${i.loadAtStart} at the start (over ${l.maxStartLoad}), but other processes used only ${otherCores.toFixed(2)} cores during the run: ` +
        'the load average lags (a run that just ended still shows in it), so the CPU measure decides',
    );
  }
  return { publishable: reasons.length === 0, otherCores, reasons, notes };
}

/** Busy ticks of all cores (user, nice, system, irq, softirq, steal) from /proc/stat's first line. */
export function machineBusyTicks(stat: string): number {
  const line = stat.split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  return (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime. */
  own: number;
  /** cutime + cstime: children that exited and were waited for. */
  children: number;
}

/** Fields of /proc/PID/stat; the command name may hold spaces and parentheses, so parse after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(text.slice(0, text.indexOf('(')).trim());
  const f = text.slice(close + 2).split(' ');
  // f[0] state, f[1] ppid, ... f[11] utime, f[12] stime, f[13] cutime, f[14] cstime
  const n = (i: number) => Number(f[i] ?? 0);
  return { pid, ppid: n(1), own: n(11) + n(12), children: n(13) + n(14) };
}

function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (s) out.push(s);
    } catch {
      // exited between the listing and the read
    }
  }
  return out;
}

/** `roots` and every descendant of them alive in `procs`. */
export function treeMembers(procs: readonly ProcStat[], roots: readonly number[]): ProcStat[] {
  const kids = new Map<number, number[]>();
  for (const p of procs) {
    const list = kids.get(p.ppid);
    if (list) list.push(p.pid);
    else kids.set(p.ppid, [p.pid]);
  }
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const seen = new Set<number>();
  const out: ProcStat[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = byPid.get(pid);
    if (!p) continue;
    out.push(p);
    for (const k of kids.get(pid) ?? []) stack.push(k);
  }
  return out;
}

/**
 * Starts watching; `stop()` samples every second between start and stop so that a child that
 * exits unwaited (its CPU then never reaches a parent) is still counted from its last sample.
 */
export function watchQuiet(o: QuietOptions = {}): { stop: () => QuietVerdict } {
  const roots = [o.rootPid ?? process.pid, ...(o.servicePids ?? [])];
  const maxStartLoad = o.maxStartLoad ?? 1.0;
  const maxOtherCores = o.maxOtherCores ?? 0.15;
  const load = loadavg().map((x) => Math.round(x * 100) / 100);
  const started = Date.now();
  let linux = true;
  let machine0 = 0;
  let own0 = 0;
  // The tree's CPU = what its live members used (their waited-for children included) plus what
  // members that vanished used while their parent vanished too (nobody left to inherit the
  // ticks). A member whose parent is still in the tree was waited for: the parent's cutime and
  // cstime hold its ticks, so counting it again would count it twice.
  let last = new Map<number, ProcStat>();
  let orphaned = 0;
  const sampleOwn = (): number => {
    const now = treeMembers(allProcesses(), roots);
    const alive = new Map(now.map((p) => [p.pid, p]));
    for (const [pid, p] of last) if (!alive.has(pid) && !alive.has(p.ppid)) orphaned += p.own + p.children;
    last = alive;
    let total = orphaned;
    for (const p of now) total += p.own + p.children;
    return total;
  };
  try {
    machine0 = machineBusyTicks(readFileSync('/proc/stat', 'utf8'));
    own0 = sampleOwn();
  } catch {
    linux = false;
  }
  const timer = linux ? setInterval(() => void sampleOwn(), 1_000) : undefined;
  timer?.unref();
  return {
    stop: (): QuietVerdict => {
      if (timer) clearInterval(timer);
      const seconds = (Date.now() - started) / 1000;
      const limits = { maxStartLoad, maxOtherCores };
      if (!linux) {
        const d = quietDecision({ loadAtStart: load[0] ?? 0, seconds, otherCpuSeconds: undefined }, limits);
        return { publishable: false, loadAverageAtStart: load, seconds, machineCpuSeconds: 0, ownCpuSeconds: 0, otherCpuSeconds: 0, otherCores: 0, reasons: d.reasons, notes: d.notes };
      }
      const machineTicks = machineBusyTicks(readFileSync('/proc/stat', 'utf8')) - machine0;
      const ownTicks = Math.min(machineTicks, Math.max(0, sampleOwn() - own0));
      const machineCpuSeconds = machineTicks / TICKS_PER_S;
      const ownCpuSeconds = ownTicks / TICKS_PER_S;
      const otherCpuSeconds = Math.max(0, machineCpuSeconds - ownCpuSeconds);
      const d = quietDecision({ loadAtStart: load[0] ?? 0, seconds, otherCpuSeconds }, limits);
      return { publishable: d.publishable, loadAverageAtStart: load, seconds, machineCpuSeconds, ownCpuSeconds, otherCpuSeconds, otherCores: d.otherCores, reasons: d.reasons, notes: d.notes };
    },
  };
}

/**
 * What to tell a person whose run was not publishable: what was busy, how to see it, and the exact
 * command to run again (with `--allow-busy` as the deliberate way to write the files anyway).
 */
export function rerunAdvice(v: QuietVerdict, command: string): string {
  const busyCpu = v.reasons.some((r) => r.startsWith('other processes used'));
  const how = busyCpu
    ? `Other work used the CPU while this ran: find it with \`top\` (or \`ps -eo pid,pcpu,etime,args --sort=-pcpu | head\`), wait until nothing else is busy`
    : 'Check that nothing else is busy (`top`)';
  const notes = (v.notes ?? []).length > 0 ? ` (${(v.notes ?? []).join('; ')})` : '';
  return (
    `not publishable: ${v.reasons.join('; ')}${notes}. ` +
    `${how}, then run \`${command}\` again; \`${command}${command.startsWith('npm run') ? ' --' : ''} --allow-busy\` writes the published files anyway, marked busy.`
  );
}

/**
 * What a benchmark prints on stderr once its watch has judged the run: the advice to rerun when the
 * machine was busy (with `busyNote` after it, e.g. which file stayed unchanged), else the quiet
 * verdict's notes. One line each, prefixed with the benchmark's tag.
 */
export function verdictLines(tag: string, v: QuietVerdict, command: string, busyNote = ''): string[] {
  if (!v.publishable) return [`[${tag}] ${rerunAdvice(v, command)}${busyNote}`];
  return (v.notes ?? []).map((note) => `[${tag}] quiet: ${note}`);
}

/**
 * The services a benchmark drives that the test scripts started (test/services/): the Kafka
 * broker and the ClickHouse server, from their pid files under .cache/. Their CPU is the run's own.
 */
export function servicePids(root = packageRoot()): number[] {
  const out: number[] = [];
  const runs = [join(root, '.cache', 'kafka'), join(root, '.cache', 'clickhouse-server')];
  for (const dir of runs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith('run-')) continue;
      for (const file of ['pid', 'server.pid']) {
        try {
          const pid = Number(readFileSync(join(dir, name, file), 'utf8').trim());
          if (Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`)) out.push(pid);
        } catch {
          // no such pid file
        }
      }
    }
  }
  return out;
}
