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
import { PevmeterError } from '../../schemas/errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { deadBlockResult } from '../decode/batch.js';
import { type BatchResult } from '../decode/task.js';
import { containerBlockTask, readContainerFile } from '../decode/container.js';
import type { DecodePool } from '../decode/pool.js';
import { MemoryDeadLetterSink } from '../kafka/dead-letter.js';
import { DurableSink, TableBuffers } from './sink.js';

export interface FileIngestSummary {
  files: number;
  bytes: number;
  records: number;
  rowsByTable: Record<string, number>;
  deadByCode: Record<string, number>;
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

function kindOfSchema(schemaText: string, path: string): RecordKind {
  let name: unknown;
  try {
    name = (JSON.parse(schemaText) as { name?: unknown; namespace?: unknown }).name;
  } catch {
    throw new PevmeterError('PEV_INPUT', `${path}: the container's schema is not JSON`);
  }
  for (const kind of RECORD_KINDS) {
    const t = latestSchema(kind).type;
    if (t.name === name || t.name?.endsWith(`.${String(name)}`)) return kind;
  }
  throw new PevmeterError('PEV_INPUT', `${path}: records of ${String(name)} are none of EumdInterval, SessionEvent, VehicleReport, Enrollment`);
}

export async function ingestFiles(paths: readonly string[], o: FileIngestOptions): Promise<FileIngestSummary> {
  const started = Date.now();
  const unitRecords = o.unitRecords ?? 100_000;
  const sink = new DurableSink(o.cfg, o.store, new MemoryDeadLetterSink(), o.metrics, o.log);
  const kill = o.signal ?? new AbortController().signal;
  const summary: FileIngestSummary = { files: 0, bytes: 0, records: 0, rowsByTable: {}, deadByCode: {}, seconds: 0 };
  const inflight: Promise<void>[] = [];
  let failure: unknown;
  let progressBytes = 0;

  const flush = (jobs: Promise<BatchResult>[]) => {
    const p = Promise.all(jobs)
      .then(async (results) => {
        const buffers = new TableBuffers();
        for (const r of results) {
          for (const t of r.tables) {
            buffers.add(t.table, t.tsv, t.rows);
            summary.rowsByTable[t.table] = (summary.rowsByTable[t.table] ?? 0) + t.rows;
          }
          summary.records += r.stats.records;
          o.metrics.recordsIn.inc({ topic: r.topic }, r.stats.records);
          for (const [code, n] of Object.entries(r.stats.deadByCode)) {
            summary.deadByCode[code] = (summary.deadByCode[code] ?? 0) + n;
            o.metrics.deadLetters.inc({ code }, n);
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

  for (const path of paths) {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new PevmeterError('PEV_INPUT', `${path}: cannot read: ${(err as Error).message}`);
    }
    const topic = basename(path).replace(/\.avro$/, '');
    let kind: RecordKind | undefined;
    let jobs: Promise<BatchResult>[] = [];
    let pending = 0;
    for await (const item of readContainerFile(path)) {
      if (failure) break;
      const now = Date.now();
      if (item.type === 'header') {
        kind = kindOfSchema(item.schema, path);
        continue;
      }
      if (item.type === 'bad') {
        // A bad header stands for the whole file; its kind may be unknown: file it as intervals.
        jobs.push(Promise.resolve(deadBlockResult({ topic, partition: 0, kind: kind ?? 'interval', firstOrdinal: item.firstOrdinal, count: item.count, code: item.code, message: `${basename(path)}: ${item.message}`, payload: item.payload, ingestedMs: now })));
        continue;
      }
      progressBytes = summary.bytes + item.position;
      jobs.push(o.pool.run(containerBlockTask(item, { topic, kind: kind!, nowMs: now, clockSkewMs: o.cfg.pipeline.clockSkewMs, ingestedMs: now })));
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
    summary.bytes += size;
    progressBytes = summary.bytes;
  }
  await Promise.all(inflight);
  if (failure) throw failure instanceof Error ? failure : new Error(inspect(failure));
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
