/**
 * What the harness watches from outside a running pipeline: its /metrics endpoint (rows written,
 * as a Prometheus scrape would see them) and the Kafka broker's CPU from /proc, both sampled on a
 * timer. Scraping costs the pipeline one metrics render per poll, about a millisecond.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../schemas/index.js';

/** The value of `name{label="value"}` in a Prometheus text exposition; 0 when absent. */
export function metricValue(text: string, name: string, label?: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (label !== undefined && !rest.includes(label)) continue;
    const v = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) total += v;
  }
  return total;
}

export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** CPU seconds a process has used so far (user + system, all threads), from /proc/PID/stat. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name, in ticks.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The pid of the local test broker (test/services/kafka.sh) serving `brokers`, if it is ours. */
export function brokerPid(brokers: string): number | undefined {
  const m = /^(?:127\.0\.0\.1|localhost):(\d+)$/.exec(brokers.split(',')[0]!.trim());
  if (!m) return undefined;
  const file = join(packageRoot(), '.cache', 'kafka', `run-${m[1]}`, 'pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && procCpuSeconds(pid) !== undefined ? pid : undefined;
}
