/**
 * Batch upload: Avro object container files through the same worker pool, sink and store as the
 * Kafka path. A file's records are one record kind (told by the writer schema's name); the file's
 * base name is their src_topic and a record's ordinal in the file its src_offset, so re-ingesting
 * a file stores copies that count once.
 */
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import { inspect } from 'node:util';
import { RECORD_KINDS, latestSchema, type RecordKind } from '../../schemas/index.js';
import type { Store } from '../../aggregate/store/types.js';
import type { Config } from '../../schemas/config.js';
import { PevmeterError, type RecordErrorCode } from '../../schemas/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { deadBlockResult } from '../decode/batch.js';
import { DEAD_PAYLOAD_MAX_BYTES, type BatchResult } from '../decode/task.js';
import { containerBlockTask, readContainerFile } from '../decode/container.js';
import type { DecodePool } from '../decode/pool.js';
import { MemoryDeadLetterSink } from '../kafka/dead-letter.js';
import { DurableSink, TableBuffers } from './sink.js';

export interface FileIngestSummary {
  files: number;
  bytes: number;
  /** Declared records: stored + lost. */
  records: number;
  rowsByTable: Record<string, number>;
  /** Dead letters per code: one letter may stand for a whole block of records. */
  deadByCode: Record<string, number>;
  /** Records dead-lettered (not stored), in total and per code. */
  recordsLost: number;
  lostByCode: Record<string, number>;
  seconds: number;
}

export interface FileIngestOptions {
  cfg: Config;
  store: Store;
  pool: DecodePool;
  metrics: Metrics;
  log: Logger;
  /** Records per unit (one insert per table per unit). */
  unitRecords?: number;
  onProgress?: (done: { bytes: number; records: number }) => void;
  signal?: AbortSignal;
}

/**
 * The record kind a container's writer schema names, or why it names none: such a file is
 * dead-lettered block by block (like a file whose header does not parse), never a reason to drop
 * the rest of the batch.
 */
function kindOfSchema(schemaText: string, file: string): RecordKind | { code: RecordErrorCode; message: string } {
  let name: unknown;
  try {
    name = (JSON.parse(schemaText) as { name?: unknown }).name;
  } catch {
    return { code: 'PEV_CONTAINER_HEADER', message: `${file}: the container's schema is not JSON` };
  }
  for (const kind of RECORD_KINDS) {
    const t = latestSchema(kind).type;
    if (t.name === name || t.name?.endsWith(`.${String(name)}`)) return kind;
  }
  return { code: 'PEV_WRONG_RECORD_TYPE', message: `${file}: records of ${String(name)} are none of EumdInterval, SessionEvent, VehicleReport, Enrollment` };
}

export async function ingestFiles(paths: readonly string[], o: FileIngestOptions): Promise<FileIngestSummary> {
  const started = Date.now();
  const unitRecords = o.unitRecords ?? 100_000;
  const sink = new DurableSink(o.cfg, o.store, new MemoryDeadLetterSink(), o.metrics, o.log);
  const kill = o.signal ?? new AbortController().signal;
  const summary: FileIngestSummary = { files: 0, bytes: 0, records: 0, rowsByTable: {}, deadByCode: {}, recordsLost: 0, lostByCode: {}, seconds: 0 };
  const inflight: Promise<void>[] = [];
  let failure: unknown;
  let progressBytes = 0;

  const flush = (jobs: Promise<BatchResult>[]) => {
    const p = Promise.all(jobs)
      .then(async (results) => {
        const buffers = new TableBuffers();
        for (const r of results) {
          for (const t of r.tables) {
            buffers.addRows(t);
            summary.rowsByTable[t.table] = (summary.rowsByTable[t.table] ?? 0) + t.rows;
          }
          summary.records += r.stats.records;
          o.metrics.recordsIn.inc({ topic: r.topic }, r.stats.records);
          for (const [code, n] of Object.entries(r.stats.deadByCode)) {
            summary.deadByCode[code] = (summary.deadByCode[code] ?? 0) + n;
            o.metrics.deadLetters.inc({ code }, n);
          }
          summary.recordsLost += r.stats.deadRecords;
          for (let i = 0; i < r.dead.code.length; i++) {
            const code = r.dead.code[i]!;
            summary.lostByCode[code] = (summary.lostByCode[code] ?? 0) + r.dead.records[i]!;
          }
        }
        await sink.write(buffers, [], kill);
        o.onProgress?.({ bytes: progressBytes, records: summary.records });
      })
      .catch((err: unknown) => {
        failure ??= err;
      });
    inflight.push(p);
    void p.finally(() => inflight.splice(inflight.indexOf(p), 1));
  };

  // Every file is looked at before anything is written: a typo in the last name must not leave
  // the batch half stored.
  const sizes: number[] = [];
  for (const path of paths) {
    try {
      sizes.push((await stat(path)).size);
    } catch (err) {
      throw new PevmeterError('PEV_INPUT', `${path}: cannot read: ${(err as Error).message}`);
    }
  }
  try {
    for (const [i, path] of paths.entries()) {
      const topic = basename(path).replace(/\.avro$/, '');
      let kind: RecordKind | undefined;
      let unreadable: { code: RecordErrorCode; message: string } | undefined;
      let jobs: Promise<BatchResult>[] = [];
      let pending = 0;
      for await (const item of readContainerFile(path)) {
        if (failure) break;
        const now = Date.now();
        if (item.type === 'header') {
          const k = kindOfSchema(item.schema, basename(path));
          if (typeof k === 'string') kind = k;
          else unreadable = k;
          continue;
        }
        if (item.type === 'bad' || unreadable) {
          // A file of no known kind, or a bad header or block: one letter per unit, with the
          // records it stands for; its kind may be unknown: file it as intervals.
          const d = item.type === 'bad'
            ? { code: item.code, message: `${basename(path)}: ${item.message}`, payload: item.payload }
            : { code: unreadable!.code, message: unreadable!.message, payload: new Uint8Array(item.data, 0, Math.min(item.data.byteLength, DEAD_PAYLOAD_MAX_BYTES)) };
          jobs.push(Promise.resolve(deadBlockResult({ topic, partition: 0, kind: kind ?? 'interval', firstOrdinal: item.firstOrdinal, count: item.count, ...d, ingestedMs: now })));
        } else {
          progressBytes = summary.bytes + item.position;
          jobs.push(o.pool.run(containerBlockTask(item, { topic, kind: kind!, nowMs: now, clockSkewMs: o.cfg.pipeline.clockSkewMs, ingestedMs: now, columnar: sink.columnar })));
        }
        pending += item.count;
        // A unit ends at unitRecords, or at a number of blocks the pool's queue holds (a file of
        // many tiny blocks must not overflow it).
        if (pending >= unitRecords || jobs.length >= o.pool.threads * 16) {
          flush(jobs);
          jobs = [];
          pending = 0;
          while (inflight.length >= o.cfg.pipeline.maxInflightUnits) await Promise.race(inflight);
        }
      }
      if (jobs.length > 0) flush(jobs);
      summary.files++;
      summary.bytes += sizes[i]!;
      progressBytes = summary.bytes;
    }
  } finally {
    // Whatever ends the loop (a read error, a failed write), no write outlives this call: the
    // caller closes the store next.
    while (inflight.length > 0) await Promise.allSettled([...inflight]);
  }
  if (failure) throw failure instanceof Error ? failure : new Error(inspect(failure));
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
