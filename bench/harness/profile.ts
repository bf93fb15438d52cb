/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`, one .cpuprofile per thread): the functions with
 * the most self time, per thread. Self time of a sample is the time delta to the next sample,
 * charged to the sampled node; nodes are grouped by function name and location.
 */
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { packageRoot } from '../../schemas/index.js';
import type { ProfileFunction, ProfileSummary } from './types.js';

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/**
 * Idle time is not work: it stays out of the percentages. A piscina worker waiting for its next
 * task blocks in Atomics.wait inside atomicsWaitLoop, which the profiler sees as that function.
 */
const IDLE = new Set(['(idle)', 'atomicsWaitLoop']);

function where(url: string, line: number): string {
  if (!url) return '';
  let path = url.startsWith('file://') ? new URL(url).pathname : url;
  const root = packageRoot();
  if (path.startsWith(`${root}/`)) path = relative(root, path);
  return `${path}:${line + 1}`;
}

/** A time window in the profiler's clock (CLOCK_MONOTONIC, µs, the clock of process.hrtime). */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

export function summarizeProfile(profile: CpuProfile, top = 15, window?: ProfileWindow): { totalMs: number; busyMs: number; top: ProfileFunction[] } {
  const nodeKey = new Map<number, { fn: string; where: string }>();
  for (const n of profile.nodes) nodeKey.set(n.id, { fn: n.callFrame.functionName || '(anonymous)', where: where(n.callFrame.url, n.callFrame.lineNumber) });
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const self = new Map<string, ProfileFunction>();
  let totalUs = 0;
  let idleUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    // timeDeltas[i] is the gap before sample i; the gap after it is what the sampled frame held.
    const us = i + 1 < deltas.length ? deltas[i + 1]! : 0;
    const k = nodeKey.get(samples[i]!) ?? { fn: '(unknown)', where: '' };
    totalUs += us;
    if (IDLE.has(k.fn)) {
      idleUs += us;
      continue;
    }
    const key = `${k.fn}\u0000${k.where}`;
    const f = self.get(key) ?? { fn: k.fn, where: k.where, selfMs: 0, selfPct: 0 };
    f.selfMs += us / 1000;
    self.set(key, f);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const list = [...self.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const f of list) {
    f.selfPct = busyMs > 0 ? Math.round((f.selfMs / busyMs) * 1000) / 10 : 0;
    f.selfMs = Math.round(f.selfMs);
  }
  return { totalMs: totalUs / 1000, busyMs, top: list };
}

/** Thread of a profile file: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is main. */
export function threadOf(file: string): string {
  const parts = basename(file).split('.');
  const tid = parts.length >= 6 ? Number(parts[4]) : Number.NaN;
  return tid === 0 ? 'main' : Number.isFinite(tid) ? `worker ${tid}` : basename(file);
}

export function summarizeProfiles(label: string, files: readonly string[], top = 15, window?: ProfileWindow): ProfileSummary {
  const threads: ProfileSummary['threads'] = [];
  for (const file of [...files].sort()) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const s = summarizeProfile(profile, top, window);
    threads.push({ thread: threadOf(file), totalMs: Math.round(s.busyMs), top: s.top });
  }
  return { label, files: files.map((f) => relative(packageRoot(), f)), threads };
}
