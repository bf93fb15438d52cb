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
import type { ReadLimit } from './types.js';

interface KcatRun {
  wallSeconds: number;
  messages: number;
}

function timeKcat(brokers: string, topic: string, timeoutMs: number): Promise<KcatRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // fetch.wait.max.ms=10: at the end of a partition (and on an empty one) the broker holds a fetch
    // for up to this long before librdkafka can see the end; its default, 500 ms, would swamp a read.
    const child = spawn('kcat', ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '\\n', '-X', 'fetch.wait.max.ms=10'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (code !== 0) reject(new Error(`kcat exited with ${String(code)}: ${err}`));
      else resolve({ wallSeconds: (performance.now() - t0) / 1000, messages });
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
  while (walls.length < 20 && (walls.length === 0 || timed < minSeconds)) {
    const run = await timeKcat(brokers, topic, 600_000);
    if (run.messages !== expect.messages) throw new Error(`kcat read ${run.messages} of ${expect.messages} messages of ${topic}`);
    walls.push(run.wallSeconds);
    timed += Math.max(0, run.wallSeconds - empty);
  }
  const seconds = Math.max(1e-3, timed / walls.length);
  return {
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
}
