/**
 * Child-process entry of the peer: ClickHouse's Kafka table engine with a materialized view into a
 * SummingMergeTree (bench/peer/peer.sql), in chDB, in a folder of its own.
 *
 *   node dist/bench/peer/peer-process.js --dir D --brokers B --topic T --group G \
 *        --registry-url U --target N [--consumers C] [--until rows|drained] \
 *        [--timeout-ms MS] [--poll-ms MS] [--dump FILE]
 *
 * Opening the folder again after a SIGKILL resumes the same tables: chDB re-attaches the Kafka
 * table at start-up and its consumers rejoin the group from the last committed offsets.
 *
 * --until rows      done when `target` interval records are queryable (sum of `intervals`): the
 *                   throughput run;
 * --until drained   done when the group has committed the end of every partition: the exactness
 *                   run, where redeliveries may push the row count past `target` before the
 *                   topic is read.
 * --dump FILE       JSON lines {session_id, wh, n}: per-session energy as a user would query it.
 *
 * Prints JSON lines (protocol.ts); the last is the result.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'chdb';
import { GroupWatcher } from './kafka.js';
import { emit, intFlag, parseFlags, required, type ChildResult } from './protocol.js';
import { peerStatements } from './sql.js';

const FLAGS = ['dir', 'brokers', 'topic', 'group', 'registry-url', 'target', 'consumers', 'until', 'timeout-ms', 'poll-ms', 'dump'];

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), FLAGS);
  const dir = required(flags, 'dir');
  const brokers = required(flags, 'brokers');
  const topic = required(flags, 'topic');
  const group = required(flags, 'group');
  const target = intFlag(flags, 'target', 0);
  const until = flags.get('until') ?? 'rows';
  if (until !== 'rows' && until !== 'drained') throw new Error(`--until: expected rows or drained, got ${until}`);
  const timeoutMs = intFlag(flags, 'timeout-ms', 600_000);
  const pollMs = Math.max(10, intFlag(flags, 'poll-ms', 50));
  const dump = flags.get('dump');

  const statements = peerStatements({
    brokers,
    topic,
    group,
    registry_url: required(flags, 'registry-url'),
    consumers: String(intFlag(flags, 'consumers', 1)),
  });
  const session = new Session(dir);
  for (const q of statements) await session.queryAsync(q);
  const started = Date.now();
  emit({ event: 'ready', atMs: started });

  const watcher = until === 'drained' ? new GroupWatcher(brokers, group, topic) : undefined;
  await watcher?.connect();

  let firstReadMs: number | null = null;
  let lastReadMs: number | null = null;
  let queryableMs: number | null = null;
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let cpuSeconds: number | null = null;
  let messagesRead = 0;
  let rows = 0;
  let lastEmit = 0;
  let lastEmitted = { read: -1, rows: -1 };
  let lastLagCheck = 0;
  let reason: ChildResult['reason'] = 'timeout';
  // One query for both counters so they are read at the same moment. num_messages_read counts
  // Kafka messages as the consumers poll them, before the block is flushed; rows count only
  // flushed, queryable records.
  const probe =
    "SELECT (SELECT sum(intervals) FROM peer.session_minute_sum) AS rows, " +
    "(SELECT sum(num_messages_read) FROM system.kafka_consumers WHERE database = 'peer' AND table = 'interval_queue') AS read";
  while (Date.now() - started < timeoutMs) {
    const r = (await session.queryAsync(probe, { format: 'JSONEachRow' })).json<{ rows: number | string; read: number | string | null }>();
    const now = Date.now();
    const read = Number(r.read ?? 0);
    rows = Number(r.rows);
    if (read > 0 && firstReadMs === null) {
      firstReadMs = now;
      cpuAtFirst = process.cpuUsage();
    }
    if (read !== messagesRead) lastReadMs = now;
    messagesRead = read;
    // Every change is reported at once (the parent may be waiting to kill at that very moment).
    if (now - lastEmit >= 250 || read !== lastEmitted.read || rows !== lastEmitted.rows) {
      lastEmitted = { read, rows };
      emit({ event: 'progress', atMs: now, messagesRead, rows });
      lastEmit = now;
    }
    if (target > 0 && rows >= target && queryableMs === null) {
      queryableMs = now;
      if (cpuAtFirst) {
        const c = process.cpuUsage(cpuAtFirst);
        cpuSeconds = (c.user + c.system) / 1e6;
      }
      if (until === 'rows') {
        reason = 'target';
        break;
      }
    }
    if (watcher && now - lastLagCheck >= 500) {
      lastLagCheck = now;
      const pos = await watcher.position();
      if (pos.lag === 0 && pos.end > 0) {
        // Committed means flushed: read the count once more, after the commit.
        rows = Number((await session.queryAsync('SELECT sum(intervals) AS rows FROM peer.session_minute_sum', { format: 'JSONEachRow' })).json<{ rows: number | string }>().rows);
        reason = 'drained';
        break;
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  await watcher?.close();
  if (dump) {
    const text = (await session.queryAsync('SELECT session_id, sum(energy_wh) AS wh, sum(intervals) AS n FROM peer.session_minute_sum GROUP BY session_id ORDER BY session_id', { format: 'JSONEachRow' })).text();
    writeFileSync(dump, text);
  }
  const version = (await session.queryAsync('SELECT version() AS v', { format: 'JSONEachRow' })).json<{ v: string }>().v;
  const settings = (await session.queryAsync("SELECT name, value FROM system.settings WHERE name IN ('stream_flush_interval_ms', 'max_insert_block_size', 'kafka_max_wait_ms')", { format: 'JSONEachRow' })).text();
  const total = process.cpuUsage();
  const seconds = firstReadMs !== null && queryableMs !== null ? (queryableMs - firstReadMs) / 1000 : null;
  const result: ChildResult = {
    event: 'done',
    system: 'peer',
    firstReadMs,
    lastReadMs,
    queryableMs,
    rows,
    messagesRead,
    target,
    seconds,
    recordsPerSec: seconds !== null && seconds > 0 ? target / seconds : null,
    cpuSeconds,
    cpuSecondsTotal: (total.user + total.system) / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    reason,
    info: {
      clickhouse: version,
      consumers: Number(flags.get('consumers') ?? 1),
      settings: settings.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown),
    },
  };
  emit(result);
  // Detach the queue first so its consumers leave the group instead of waiting out a session timeout.
  await session.queryAsync('DETACH TABLE peer.interval_queue').catch(() => undefined);
  session.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`peer-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
