/**
 * kcat (Debian's package) as a second Kafka read limit: a C consumer on librdkafka reading the
 * whole topic and printing one newline per message (counted here, so the read is verified).
 *
 *   kcat -C -b BROKERS -t TOPIC -o beginning -e -q -f '\n' -X fetch.wait.max.ms=10
 *
 * Time: the command's wall time minus that of the same command on an empty topic (kcat's start,
 * metadata and offset lookups), repeated until at least minSeconds were timed, so a small topic (64
 * records per message) is not lost in the noise of process start. (Timing from kcat's first
 * output does not work: its stdout to a pipe is block-buffered, thousands of messages a chunk.)
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface ReadLimit {
  tool: 'node-rdkafka' | 'kcat';
  records: number;
  messages: number;
  bytes: number;
  seconds: number;
  recordsPerS: number;
  messagesPerS: number;
  mbPerS: number;
  /** CPU of the reading process per record (µs), when measured (not for kcat). */
  cpuUsPerRecord?: number;
  /** What the time covers. */
  note: string;
}

interface KcatRun {
  wallSeconds: number;
  messages: number;
  /** User + system CPU of kcat, when GNU time is there to tell. */
  cpuSeconds: number | undefined;
}

/** GNU time reports the child's CPU (kcat is a separate process: no /proc after it exits). */
const GNU_TIME = '/usr/bin/time';
const CPU_MARK = 'pevmeter-cpu';

function timeKcat(brokers: string, topic: string, timeoutMs: number): Promise<KcatRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // fetch.wait.max.ms=10: at the end of a partition (and on an empty one) the broker holds a fetch
    // for up to this long before librdkafka can see the end; its default, 500 ms, would swamp a read.
    const args = ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '\\n', '-X', 'fetch.wait.max.ms=10'];
    const timed = existsSync(GNU_TIME);
    const child = timed
      ? spawn(GNU_TIME, ['-f', `${CPU_MARK} %U %S`, 'kcat', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let messages = 0;
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) messages++;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-4096);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`kcat exited with ${String(code)}: ${err}`));
        return;
      }
      const m = new RegExp(`${CPU_MARK} ([\\d.]+) ([\\d.]+)`).exec(err);
      resolve({ wallSeconds: (performance.now() - t0) / 1000, messages, cpuSeconds: m ? Number(m[1]) + Number(m[2]) : undefined });
    });
  });
}

export async function kcatReadLimit(brokers: string, topic: string, emptyTopic: string, expect: { messages: number; records: number; bytes: number }, minSeconds = 2): Promise<ReadLimit> {
  const empties: number[] = [];
  for (let i = 0; i < 3; i++) empties.push((await timeKcat(brokers, emptyTopic, 60_000)).wallSeconds);
  empties.sort((a, b) => a - b);
  const empty = empties[1]!;
  const walls: number[] = [];
  let timed = 0;
  let cpu = 0;
  let cpuKnown = true;
  while (walls.length < 20 && (walls.length === 0 || timed < minSeconds)) {
    const run = await timeKcat(brokers, topic, 600_000);
    if (run.messages !== expect.messages) throw new Error(`kcat read ${run.messages} of ${expect.messages} messages of ${topic}`);
    walls.push(run.wallSeconds);
    timed += Math.max(0, run.wallSeconds - empty);
    if (run.cpuSeconds === undefined) cpuKnown = false;
    else cpu += run.cpuSeconds;
  }
  const seconds = Math.max(1e-3, timed / walls.length);
  const out: ReadLimit = {
    tool: 'kcat',
    records: expect.records,
    messages: expect.messages,
    bytes: expect.bytes,
    seconds,
    recordsPerS: expect.records / seconds,
    messagesPerS: expect.messages / seconds,
    mbPerS: expect.bytes / 1e6 / seconds,
    note: `kcat -C -o beginning -e -f '\\n' -X fetch.wait.max.ms=10, ${walls.length} run(s): mean wall ${(walls.reduce((a, b) => a + b, 0) / walls.length).toFixed(3)} s minus ${empty.toFixed(3)} s on an empty topic`,
  };
  // Whole-process CPU (start included): an upper bound of the per-record cost.
  if (cpuKnown) out.cpuUsPerRecord = (cpu / walls.length / expect.records) * 1e6;
  return out;
}
