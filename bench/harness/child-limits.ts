/**
 * The limits of each stage, each measured in a child process doing nothing else:
 *
 *   read-limit    node-rdkafka consume-only: batched consume() of the whole topic, counting
 *                 messages and bytes, nothing else (no decode, no commit).
 *   stage-limits  the same topic read once more (untimed) and packed into worker tasks exactly
 *                 as the pipeline packs them for the store measured (buildFramedTask,
 *                 MESSAGES_PER_TASK, columns where the store takes them), then
 *                   decode  decodeBatch over every task in a tight loop on this one thread;
 *                   write   the interval rows it produced, inserted the pipeline's way (chDB:
 *                           store.insertIntervalColumns; a server: store.insertTsv) in the
 *                           pipeline's batch sizes and concurrency, into a fresh store; on chDB,
 *                           with `compareText`, also the same rows as text through store.insertTsv.
 */
import Kafka from 'node-rdkafka';
import type { Message } from 'node-rdkafka';
import { loadConfig } from '../../schemas/config.js';
import { PevmeterError } from '../../schemas/errors.js';
import { decodeBatch } from '../../ingest/decode/batch.js';
import type { FramedTask } from '../../ingest/decode/task.js';
import { MESSAGES_PER_TASK, buildFramedTask } from '../../ingest/pipeline/processor.js';
import { latestSchema } from '../../schemas/index.js';
import { openStore } from '../../aggregate/store/index.js';
import type { IntervalColumnsPart } from '../../aggregate/store/columns.js';
import type { ReadLimitJob, StageLimitJob } from './protocol.js';
import type { DecodeLimit, ReadLimit, WriteLimit } from './types.js';

function consumerFor(brokers: string, group: string): Promise<Kafka.KafkaConsumer> {
  // The pipeline's fetch settings (ingest/kafka/consumer.ts), so the limit is the same client's.
  const consumer = new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': brokers,
      'group.id': group,
      'client.id': 'pevmeter-bench-read',
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'fetch.wait.max.ms': 50,
      'queued.max.messages.kbytes': 65_536,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  return new Promise((resolve, reject) => {
    consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(new PevmeterError('PEV_KAFKA', `bench: connect: ${err.message}`)) : resolve(consumer)));
  });
}

function consume(consumer: Kafka.KafkaConsumer, n: number): Promise<Message[]> {
  return new Promise((resolve, reject) => consumer.consume(n, (err, msgs) => (err ? reject(new PevmeterError('PEV_KAFKA', `bench: consume: ${err.message}`)) : resolve(msgs))));
}

function disconnect(consumer: Kafka.KafkaConsumer): Promise<void> {
  return new Promise((resolve) => consumer.disconnect(() => resolve()));
}

function cpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

interface ReadPass {
  seconds: number;
  cpu: number;
}

/**
 * Reads the whole topic from the beginning by explicit assignment (no group protocol), asking
 * consume() for at most the messages still missing, so the last call returns with the last
 * message instead of waiting out a timeout. The clock runs from the first consume call to the
 * last message. `passes` > 1 reads it again from offset 0 each time.
 */
async function readPasses(
  job: { brokers: string; topic: string; partitions: number; messages: number; consumeBatch: number },
  onBatch: (msgs: Message[], pass: number) => void,
  o: { minSeconds: number; maxPasses: number; timeoutMs: number },
): Promise<ReadPass[]> {
  const consumer = await consumerFor(job.brokers, `bench-read-${process.pid}-${Date.now()}`);
  const passes: ReadPass[] = [];
  try {
    consumer.setDefaultConsumeTimeout(100);
    let total = 0;
    for (let pass = 0; pass < o.maxPasses && (pass === 0 || total < o.minSeconds); pass++) {
      if (pass > 0) consumer.unassign();
      consumer.assign(Array.from({ length: job.partitions }, (_, partition) => ({ topic: job.topic, partition, offset: 0 })));
      let seen = 0;
      const deadline = Date.now() + o.timeoutMs;
      const c0 = cpuSeconds();
      const t0 = performance.now();
      while (seen < job.messages) {
        if (Date.now() > deadline) throw new PevmeterError('PEV_KAFKA', `bench: read ${seen} of ${job.messages} messages of ${job.topic} within ${o.timeoutMs} ms`);
        const msgs = await consume(consumer, Math.min(job.consumeBatch, job.messages - seen));
        if (msgs.length === 0) continue;
        seen += msgs.length;
        onBatch(msgs, pass);
      }
      const seconds = (performance.now() - t0) / 1000;
      passes.push({ seconds, cpu: cpuSeconds() - c0 });
      total += seconds;
    }
    return passes;
  } finally {
    await disconnect(consumer);
  }
}

function recordsOf(m: Message): number {
  if (!m.headers) return 1;
  for (const h of m.headers) {
    const v = h['pev-records'];
    if (v !== undefined) return Number(typeof v === 'string' ? v : v.toString('latin1'));
  }
  return 1;
}

export async function runReadLimit(job: ReadLimitJob): Promise<ReadLimit> {
  let bytes = 0;
  let records = 0;
  // Read until at least job.minSeconds were timed: a small topic (64 records per message) takes a
  // fraction of a second per pass. The first pass warms up and is dropped when there are others.
  const all = await readPasses(job, (msgs, pass) => {
    if (pass !== 0) return;
    for (const m of msgs) {
      bytes += m.value ? m.value.length : 0;
      records += recordsOf(m);
    }
  }, { minSeconds: job.minSeconds, maxPasses: 20, timeoutMs: 600_000 });
  const timed = all.length > 1 ? all.slice(1) : all;
  const seconds = timed.reduce((n, p) => n + p.seconds, 0) / timed.length;
  const cpu = timed.reduce((n, p) => n + p.cpu, 0) / timed.length;
  return {
    tool: 'node-rdkafka', records, messages: job.messages, bytes, seconds,
    recordsPerS: records / seconds, messagesPerS: job.messages / seconds, mbPerS: bytes / 1e6 / seconds, cpuUsPerRecord: (cpu / records) * 1e6,
    note: `consume(up to ${job.consumeBatch}) from the first call to the last message, mean of ${timed.length} pass(es) over the whole topic${all.length > 1 ? ' after a warm-up pass' : ''}; counts only`,
  };
}

export interface StageLimitsResult {
  decode: DecodeLimit;
  write: WriteLimit[];
  clickhouseVersion: string;
}

/** Whole chunks grouped into inserts of at least `rowsPerInsert` rows, as the pipeline's units are. */
function groupInserts<T>(chunks: readonly { payload: T; rows: number }[], rowsPerInsert: number): { payloads: T[]; rows: number }[] {
  const inserts: { payloads: T[]; rows: number }[] = [];
  let cur: { payloads: T[]; rows: number } = { payloads: [], rows: 0 };
  for (const c of chunks) {
    cur.payloads.push(c.payload);
    cur.rows += c.rows;
    if (cur.rows >= rowsPerInsert) {
      inserts.push(cur);
      cur = { payloads: [], rows: 0 };
    }
  }
  if (cur.rows > 0) inserts.push(cur);
  return inserts;
}

/** The first whole inserts up to maxRows rows (at least one). */
function firstInserts<T>(inserts: { payloads: T[]; rows: number }[], maxRows: number): { payloads: T[]; rows: number }[] {
  let kept = 0;
  let rows = 0;
  while (kept < inserts.length && (kept === 0 || rows + inserts[kept]!.rows <= maxRows)) rows += inserts[kept++]!.rows;
  return inserts.slice(0, kept);
}

export async function runStageLimits(job: StageLimitJob): Promise<StageLimitsResult> {
  const cfg = loadConfig({ env: {}, flags: {} });
  const schema = latestSchema('interval');
  const schemas = [{ id: schema.id, text: schema.text }];
  const store = await openStore(job.store);
  const db = job.store.database;
  try {
    await store.migrate();
    const clickhouseVersion = (await store.select<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '';
    // The pipeline's choice (DurableSink.columnar): columns where the store takes them (chDB).
    const columnar = store.insertIntervalColumns !== undefined;

    const tasks: FramedTask[] = [];
    let packMs = 0;
    let bytes = 0;
    await readPasses(job, (msgs) => {
      const t0 = performance.now();
      const byPartition = new Map<number, Message[]>();
      for (const m of msgs) {
        let list = byPartition.get(m.partition);
        if (!list) byPartition.set(m.partition, (list = []));
        list.push(m);
        bytes += m.value ? m.value.length : 0;
      }
      const now = Date.now();
      for (const [partition, list] of byPartition) {
        for (let i = 0; i < list.length; i += MESSAGES_PER_TASK) {
          tasks.push(buildFramedTask(job.topic, partition, 'interval', list.slice(i, i + MESSAGES_PER_TASK), schemas, cfg, now, columnar));
        }
      }
      packMs += performance.now() - t0;
    }, { minSeconds: 0, maxPasses: 1, timeoutMs: 600_000 });

    // Decode: one warm-up task (JIT, schema parse), then every task once, timed.
    if (tasks[0]) decodeBatch(tasks[0]);
    const columns: { payload: IntervalColumnsPart; rows: number }[] = [];
    const text: { payload: Uint8Array; rows: number }[] = [];
    let ok = 0;
    const c0 = cpuSeconds();
    const t0 = performance.now();
    for (const task of tasks) {
      const r = decodeBatch(task);
      ok += r.stats.ok.interval;
      const t = r.tables[0]!;
      if (t.columns) columns.push({ payload: t.columns, rows: t.rows });
      else text.push({ payload: t.tsv, rows: t.rows });
    }
    const decodeSeconds = (performance.now() - t0) / 1000;
    const decodeCpu = cpuSeconds() - c0;
    if (ok !== job.records) throw new PevmeterError('PEV_INPUT', `bench: decode limit: ${ok} of ${job.records} records decoded as good rows`);
    const decode: DecodeLimit = {
      records: ok, messages: job.messages, seconds: decodeSeconds, recordsPerS: ok / decodeSeconds, mbPerS: bytes / 1e6 / decodeSeconds,
      packRecordsPerS: ok / (packMs / 1000), tasks: tasks.length, cpuUsPerRecord: (decodeCpu / ok) * 1e6, output: columnar ? 'columns' : 'text',
    };

    const columnInserts = firstInserts(groupInserts(columns, job.rowsPerInsert), job.maxRows);
    let textInserts = firstInserts(groupInserts(text, job.rowsPerInsert), job.maxRows);
    if (columnar && job.compareText) {
      // The same rows as text, untimed: decode the tasks again without the columnar flag until
      // they cover the rows the column inserts hold.
      const need = columnInserts.reduce((n, i) => n + i.rows, 0);
      let rows = 0;
      for (let i = 0; i < tasks.length && rows < need; i++) {
        const t = decodeBatch({ ...tasks[i]!, columnar: false }).tables[0]!;
        text.push({ payload: t.tsv, rows: t.rows });
        rows += t.rows;
      }
      textInserts = firstInserts(groupInserts(text, job.rowsPerInsert), job.maxRows);
    }
    tasks.length = 0;

    const write: WriteLimit[] = [];
    const timeInserts = async <T>(path: WriteLimit['path'], inserts: { payloads: T[]; rows: number }[], insert: (payloads: T[]) => Promise<void>, sizeOf: (p: T) => number) => {
      const rows = inserts.reduce((n, i) => n + i.rows, 0);
      const size = inserts.reduce((n, i) => n + i.payloads.reduce((m, p) => m + sizeOf(p), 0), 0);
      for (const concurrency of job.concurrency) {
        await store.client.command({ query: `TRUNCATE TABLE ${db}.interval_raw` });
        const c = cpuSeconds();
        const seconds = await inParallel(inserts, concurrency, (i) => insert(i.payloads));
        const cpu = cpuSeconds() - c;
        const [n] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_raw');
        write.push({
          store: job.store.kind, path, pipeline: (path === 'store.insertIntervalColumns') === columnar, rows, bytes: size, rowsPerInsert: Math.round(rows / inserts.length), concurrency, seconds,
          rowsPerS: rows / seconds, mbPerS: size / 1e6 / seconds, cpuUsPerRecord: (cpu / rows) * 1e6, verified: Number(n?.n) === rows,
        });
      }
    };
    if (columnar) {
      await timeInserts('store.insertIntervalColumns', columnInserts, (parts) => store.insertIntervalColumns!(parts), columnsBytes);
    }
    if (!columnar || job.compareText) {
      await timeInserts('store.insertTsv', textInserts, (chunks) => store.insertTsv('interval_raw', chunks), (c) => c.length);
    }
    return { decode, write, clickhouseVersion };
  } finally {
    await store.close();
  }
}

/** Bytes of a column part's buffers (what the main thread joins and hands to chDB). */
function columnsBytes(p: IntervalColumnsPart): number {
  let n = 0;
  for (const c of p.strings) n += c.data.byteLength + c.offsets.byteLength;
  for (const a of [...p.uint32, ...p.int64]) n += a.byteLength;
  return n;
}

/** Runs fn over items with at most `lanes` in flight; returns the wall time in seconds. */
async function inParallel<T>(items: readonly T[], lanes: number, fn: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, lanes) }, lane));
  return (performance.now() - t0) / 1000;
}
