/**
 * Writes a simulated fleet to a folder, the batch-upload form of the data:
 *
 *   pev.eumd-interval.avro, pev.session-event.avro, pev.vehicle-report.avro, pev.enrollment.avro
 *       Avro object container files, one per record kind, records in delivery order (copies and
 *       out-of-order delivery included). The base name is the topic, so ingest uses it as
 *       src_topic and the record's ordinal in the file as src_offset.
 *   truth.jsonl      one line per session (SessionTruth)
 *   manifest.json    options, counts per topic, faults (FleetManifest plus `files`)
 *
 * Malformed messages are byte-level garbage that an Avro container cannot hold (a container
 * stores decoded-valid bodies under one schema); they are left out of the files and counted in
 * the manifest under `skipped_for_files`. Same options, same bytes in every file.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_KINDS, TOPICS, latestSchema, type RecordKind } from '../../schemas/index.js';
import { FRAME_HEADER_BYTES } from '../../ingest/codec/framing.js';
import { ContainerWriter, NO_FOLLOW_WRITE, SYNC_BYTES, type ContainerStats } from './container.js';
import { Fleet, MALFORMED_CODES, type FleetCounts, type FleetManifest, type FleetOptionsInput, type MalformedCode, type SessionTruth, type SimMessage } from './fleet.js';
import { Rng } from './random.js';
import { flatMinutes } from './session/minutes.js';

export const TRUTH_FILE = 'truth.jsonl';
export const MANIFEST_FILE = 'manifest.json';

/** The container file of a record kind: its topic name plus `.avro`. */
export function containerFileName(kind: RecordKind): string {
  return `${TOPICS[kind]}.avro`;
}

export interface FilesManifest extends FleetManifest {
  files: Record<string, { file: string; records: number; bytes: number }> | null;
  skipped_for_files: { messages: number; bytes: number; byCode: Record<MalformedCode, number>; reason: string } | null;
}

export interface FleetFilesResult {
  dir: string;
  /** Per kind; null when only truth and manifest were written. */
  files: Record<RecordKind, ContainerStats> | null;
  truthPath: string;
  manifestPath: string;
  manifest: FilesManifest;
  sessions: number;
  intervalRecords: number;
  seconds: number;
  intervalRecordsPerSecond: number;
}

/**
 * truth.jsonl: each line is JSON.stringify(truth) + newline, byte for byte. The per-minute pairs
 * are most of a line; for truths built by the simulator they are printed from its flat pairs
 * straight into the file buffer (number-to-text through a two-digit table), without the pair
 * arrays and strings JSON.stringify would make of them. `minutes` is SessionTruth's last field,
 * so a line is the other fields, then the pairs.
 */
export class TruthFile {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;

  constructor(path: string) {
    this.fd = openSync(path, NO_FOLLOW_WRITE, 0o644);
  }

  write(t: SessionTruth): void {
    const flat = flatMinutes(t);
    if (flat === undefined) {
      this.text(JSON.stringify(t) + '\n');
      return;
    }
    // Every field but minutes (reading minutes through its getter would build the pairs), in
    // SessionTruth's order; a fixed-shape object stringifies several times faster than one
    // built key by key. The TruthFile test holds this to JSON.stringify(truth).
    const rest: Omit<SessionTruth, 'minutes'> = {
      session_id: t.session_id,
      esci_id: t.esci_id,
      premise_id: t.premise_id,
      reported_premise_id: t.reported_premise_id,
      account_id: t.account_id,
      pev_id: t.pev_id,
      enrolled: t.enrolled,
      program_id: t.program_id,
      tariff_id: t.tariff_id,
      connection: t.connection,
      plug_in_ms: t.plug_in_ms,
      start_ms: t.start_ms,
      end_ms: t.end_ms,
      interval_s: t.interval_s,
      granted_wh: t.granted_wh,
      rate_w: t.rate_w,
      delay_reason: t.delay_reason,
      energy_wh: t.energy_wh,
      interval_sum_wh: t.interval_sum_wh,
      intervals_total: t.intervals_total,
      intervals_delivered_unique: t.intervals_delivered_unique,
      summary_wh: t.summary_wh,
      vehicle_wh: t.vehicle_wh,
      faults: t.faults,
      expected_flags: t.expected_flags,
      detail: t.detail,
    };
    const head = JSON.stringify(rest);
    const pairs = flat.length / 2;
    this.room(Buffer.byteLength(head) + 16 + pairs * 48);
    const buf = this.buf;
    let pos = this.pos;
    pos += buf.write(head, pos, 'utf8') - 1;
    pos += buf.write(',"minutes":[', pos, 'latin1');
    for (let j = 0; j < pairs; j++) {
      if (j > 0) buf[pos++] = COMMA;
      buf[pos++] = OPEN;
      pos = this.minute(buf, pos, flat[2 * j]!);
      buf[pos++] = COMMA;
      pos = writeInteger(buf, pos, flat[2 * j + 1]!);
      buf[pos++] = CLOSE;
    }
    buf[pos++] = CLOSE;
    buf[pos++] = BRACE;
    buf[pos++] = NEWLINE;
    this.pos = pos;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  /**
   * Minutes come in steps of 60 s: keep the last one's digits and add the step in decimal,
   * instead of dividing the 10-digit number again for every pair.
   */
  private minute(buf: Buffer, pos: number, m: number): number {
    const d = this.digits;
    const step = m - this.last;
    if (step > 0 && step < 1_000_000 && this.width > 0) {
      // Small integers: int32 arithmetic, not floating-point remainders.
      let carry = step | 0;
      for (let i = this.width - 1; i >= 0 && carry > 0; i--) {
        const q = (carry / 10) | 0;
        const v = d[i]! - 0x30 + (carry - q * 10);
        carry = q;
        if (v >= 10) {
          d[i] = 0x30 + v - 10;
          carry++;
        } else {
          d[i] = 0x30 + v;
        }
      }
      if (carry === 0) {
        this.last = m;
        // All 24 bytes (no view allocation): the room reserved per pair covers the spill, and
        // what follows the digits is written over it.
        buf.set(d, pos);
        return pos + this.width;
      }
    }
    const end = writeInteger(buf, pos, m);
    this.width = end - pos;
    buf.copy(d, 0, pos, end);
    this.last = m;
    return end;
  }

  private readonly digits = Buffer.alloc(24);
  private width = 0;
  private last = 0;

  private text(s: string): void {
    this.room(Buffer.byteLength(s));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    this.flush();
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(bytes);
  }

  private flush(): void {
    let at = 0;
    while (at < this.pos) at += writeSync(this.fd, this.buf, at, this.pos - at);
    this.pos = 0;
  }
}

const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const BRACE = 0x7d;
const NEWLINE = 0x0a;
const POWERS_OF_TEN = Array.from({ length: 17 }, (_, i) => 10 ** i);
/** '00'..'99' as byte pairs. */
const DIGIT_PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');

/** Writes a safe integer in decimal, as JSON does; returns the end. */
function writeInteger(buf: Buffer, pos: number, n: number): number {
  if (n < 0) {
    buf[pos++] = 0x2d;
    n = -n;
  }
  if (n < 10) {
    buf[pos] = 0x30 + n;
    return pos + 1;
  }
  let digits = 2;
  while (digits < 16 && n >= POWERS_OF_TEN[digits]!) digits++;
  let at = pos + digits;
  const end = at;
  while (n >= 100) {
    const q = Math.floor(n / 100);
    const r = (n - q * 100) * 2;
    buf[--at] = DIGIT_PAIRS[r + 1]!;
    buf[--at] = DIGIT_PAIRS[r]!;
    n = q;
  }
  if (n >= 10) {
    buf[--at] = DIGIT_PAIRS[n * 2 + 1]!;
    buf[--at] = DIGIT_PAIRS[n * 2]!;
  } else {
    buf[--at] = 0x30 + n;
  }
  return end;
}

/**
 * Receives a fleet's stream: `session` for each truth line, `message` for each message. With
 * `containers: false` it writes truth and manifest only (a Kafka run keeps its truth beside it).
 */
export class FileSink {
  readonly dir: string;
  private readonly fleet: Fleet;
  private readonly writers: Record<RecordKind, ContainerWriter> | null;
  private readonly truth: TruthFile;
  private readonly skipped = { messages: 0, bytes: 0, byCode: Object.fromEntries(MALFORMED_CODES.map((c) => [c, 0])) as Record<MalformedCode, number> };

  constructor(dir: string, fleet: Fleet, options: { containers?: boolean } = {}) {
    this.dir = dir;
    this.fleet = fleet;
    mkdirSync(dir, { recursive: true });
    if (options.containers ?? true) {
      // Sync markers from the seed: random-looking, as the format intends, and reproducible.
      const rng = new Rng(fleet.options.seed).fork('container-sync');
      const writers = {} as Record<RecordKind, ContainerWriter>;
      for (const kind of RECORD_KINDS) {
        const marker = new Uint8Array(SYNC_BYTES);
        for (let i = 0; i < SYNC_BYTES; i++) marker[i] = rng.int(0, 255);
        writers[kind] = new ContainerWriter(join(dir, containerFileName(kind)), latestSchema(kind).text, marker);
      }
      this.writers = writers;
    } else {
      this.writers = null;
    }
    this.truth = new TruthFile(join(dir, TRUTH_FILE));
  }

  session(t: SessionTruth): void {
    this.truth.write(t);
  }

  /** The container writers, for Fleet.forEachBody; null without containers. */
  bodyWriters(): Record<RecordKind, ContainerWriter> | null {
    return this.writers;
  }

  /** Malformed messages the stream held but the files cannot (forEachBody never hands them over). */
  skipMalformed(counts: FleetCounts['malformed']): void {
    this.skipped.messages += counts.messages;
    this.skipped.bytes += counts.bytes;
    for (const code of MALFORMED_CODES) this.skipped.byCode[code] += counts.byCode[code];
  }

  message(m: SimMessage): void {
    if (this.writers === null) return;
    if (m.malformed !== null) {
      this.skipped.messages++;
      this.skipped.bytes += m.length;
      this.skipped.byCode[m.malformed]++;
      return;
    }
    const w = this.writers[m.kind];
    let from = m.offset;
    for (let i = 0; i < m.records; i++) {
      const to = m.offset + m.recordEnd(i);
      w.append(m.arena, from + FRAME_HEADER_BYTES, to);
      from = to;
    }
  }

  /** Closes the files and writes the manifest; call after the stream is exhausted. */
  close(): { files: Record<RecordKind, ContainerStats> | null; manifest: FilesManifest } {
    this.truth.close();
    let files: Record<RecordKind, ContainerStats> | null = null;
    if (this.writers) {
      const w = this.writers;
      files = Object.fromEntries(RECORD_KINDS.map((k) => [k, w[k].close()])) as Record<RecordKind, ContainerStats>;
    }
    const manifest: FilesManifest = {
      ...this.fleet.manifest(),
      files: files
        ? Object.fromEntries(RECORD_KINDS.map((k) => [TOPICS[k], { file: containerFileName(k), records: files[k].records, bytes: files[k].bytes }]))
        : null,
      skipped_for_files: files
        ? { ...this.skipped, reason: 'malformed messages are byte-level garbage; an Avro container file cannot hold them' }
        : null,
    };
    const fd = openSync(join(this.dir, MANIFEST_FILE), NO_FOLLOW_WRITE, 0o644);
    try {
      writeFileSync(fd, JSON.stringify(manifest, null, 2) + '\n');
    } finally {
      closeSync(fd);
    }
    return { files, manifest };
  }
}

/** Simulates the fleet for `options` into `dir` (created if missing); synchronous. */
export function writeFleetFilesSync(options: FleetOptionsInput, dir: string): FleetFilesResult {
  const started = process.hrtime.bigint();
  const fleet = new Fleet(options);
  const sink = new FileSink(dir, fleet);
  const writers = sink.bodyWriters()!;
  const counts = fleet.forEachBody(writers, (t) => sink.session(t));
  sink.skipMalformed(counts.malformed);
  const { files, manifest } = sink.close();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    dir,
    files,
    truthPath: join(dir, TRUTH_FILE),
    manifestPath: join(dir, MANIFEST_FILE),
    manifest,
    sessions: fleet.sessionCount,
    intervalRecords: fleet.counts.intervalRecords,
    seconds,
    intervalRecordsPerSecond: Math.round(fleet.counts.intervalRecords / Math.max(seconds, 1e-9)),
  };
}

/** The same, as a promise (the work itself is synchronous file I/O: the fastest here). */
export function writeFleetFiles(options: FleetOptionsInput, dir: string): Promise<FleetFilesResult> {
  try {
    return Promise.resolve(writeFleetFilesSync(options, dir));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
