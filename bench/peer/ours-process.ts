/**
 * Child-process entry of our side of the comparison: the real ingest service
 * (`runIngestService`), embedded chDB store in a folder of its own, its own consumer group, the
 * same topic and registry endpoint as the peer. Same flags and output as peer-process.ts:
 *
 *   node dist/bench/peer/ours-process.js --dir D --brokers B --topic T --group G \
 *        --registry-url U --target N --other-topics EV,VEH,ENR,DLQ [--workers W] \
 *        [--until rows|drained] [--timeout-ms MS] [--poll-ms MS] [--dump FILE]
 *
 * The service subscribes to four topics and dead-letters to a fifth; the bench gives it empty
 * ones (--other-topics) so that it reads the interval topic only, as the peer does.
 * "First read" is the service's own messages counter (pevmeter_messages_in_total, counted at
 * consume time, polled from its /metrics); "queryable" is a count of interval_raw through a
 * second client on the same chDB folder, which is what any reader of the views sees.
 * --dump FILE writes JSON lines {session_id, wh, n} from session_rollup.
 * --max-inflight overrides pipeline.maxInflightUnits (default: the product's).
 */
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { openStore } from '../../aggregate/store/index.js';
import type { Store } from '../../aggregate/store/types.js';
import { loadConfig } from '../../schemas/config.js';
import { runIngestService, type IngestServiceResult } from '../../ingest/service.js';
import { GroupWatcher } from './kafka.js';
import { emit, intFlag, parseFlags, required, type ChildResult } from './protocol.js';

const FLAGS = ['dir', 'brokers', 'topic', 'group', 'registry-url', 'target', 'other-topics', 'workers', 'max-inflight', 'until', 'timeout-ms', 'poll-ms', 'dump'];

/**
 * GET /metrics on a fresh connection each time: the service's event loop can be busy for seconds,
 * long enough for its server to drop an idle keep-alive socket just as a client reuses it.
 */
function metricsText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function messagesIn(port: number, topic: string): Promise<number> {
  const text = await metricsText(port);
  const line = text.split('\n').find((l) => l.startsWith(`pevmeter_messages_in_total{topic="${topic}"}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Sum and count of the service's stage histograms: where its time went. */
async function stageSeconds(port: number): Promise<Record<string, { sum: number; count: number }>> {
  const text = await metricsText(port);
  const out: Record<string, { sum: number; count: number }> = {};
  for (const name of ['pevmeter_decode_batch_seconds', 'pevmeter_insert_seconds', 'pevmeter_unit_seconds']) {
    let sum = 0;
    let count = 0;
    for (const line of text.split('\n')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith(name + '_sum')) sum += value;
      else if (line.startsWith(name + '_count')) count += value;
    }
    out[name.replace(/^pevmeter_/, '')] = { sum, count };
  }
  return out;
}

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
  const others = required(flags, 'other-topics').split(',');
  if (others.length !== 4) throw new Error('--other-topics: expected four names: session events, vehicle reports, enrollments, dead letters');
  const workers = flags.get('workers');

  const cfg = loadConfig({
    env: {},
    flags: {
      'kafka.brokers': brokers,
      'kafka.groupId': group,
      'kafka.topics.interval': topic,
      'kafka.topics.sessionEvent': others[0],
      'kafka.topics.vehicleReport': others[1],
      'kafka.topics.enrollment': others[2],
      'kafka.dlqTopic': others[3],
      'registry.url': required(flags, 'registry-url'),
      'store.kind': 'embedded',
      'store.path': dir,
      'http.port': 0,
      'log.level': 'warn',
      ...(workers !== undefined ? { 'pipeline.workers': Number(workers) } : {}),
      ...(flags.has('max-inflight') ? { 'pipeline.maxInflightUnits': intFlag(flags, 'max-inflight', 3) } : {}),
    },
  });

  const stop = new AbortController();
  let port: number | undefined;
  let ready: () => void = () => undefined;
  const readyP = new Promise<void>((r) => (ready = r));
  let serviceEnded = false;
  const service = runIngestService(cfg, {
    stop: stop.signal,
    onReady: (i) => {
      port = i.port;
      ready();
    },
  }).finally(() => {
    serviceEnded = true;
    ready();
  });
  await readyP;
  if (port === undefined) {
    await service;
    throw new Error('the ingest service stopped before it was ready');
  }
  const started = Date.now();
  emit({ event: 'ready', atMs: started, port });
  const store: Store = await openStore({ kind: 'embedded', path: dir, database: cfg.store.database });
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
  const db = cfg.store.database;
  const countRows = async () => Number((await store.select<{ n: string | number }>(`SELECT count() AS n FROM ${db}.interval_raw`))[0]?.n ?? 0);
  while (Date.now() - started < timeoutMs && !serviceEnded) {
    let read: number;
    let n: number;
    try {
      [read, n] = await Promise.all([messagesIn(port, topic), countRows()]);
    } catch (err) {
      // The service stopped (its /metrics is gone): its own error, awaited below, says why.
      if (serviceEnded) break;
      throw err;
    }
    const now = Date.now();
    rows = n;
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
        reason = 'drained';
        break;
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  await watcher?.close();
  const stages = await stageSeconds(port).catch(() => ({}));
  stop.abort();
  const summary: IngestServiceResult = await service;
  rows = await countRows();
  if (dump) {
    const out = await store.select<{ session_id: string; wh: string | number; n: string | number }>(
      `SELECT session_id, energy_wh AS wh, intervals_seen AS n FROM ${db}.session_rollup ORDER BY session_id`,
    );
    writeFileSync(dump, out.map((r) => JSON.stringify({ session_id: r.session_id, wh: Number(r.wh), n: Number(r.n) })).join('\n') + (out.length ? '\n' : ''));
  }
  await store.close();
  const total = process.cpuUsage();
  const seconds = firstReadMs !== null && queryableMs !== null ? (queryableMs - firstReadMs) / 1000 : null;
  const result: ChildResult = {
    event: 'done',
    system: 'ours',
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
      workers: cfg.pipeline.workers,
      consumeBatch: cfg.kafka.consumeBatch,
      units: summary.units,
      records: summary.records,
      deadLetters: summary.deadLetters,
      exitCode: summary.exitCode,
      maxInflightUnits: cfg.pipeline.maxInflightUnits,
      stages,
    },
  };
  emit(result);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`ours-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
