/**
 * The record shapes, loaded from the `.avsc` files and the subject-to-ID map beside this module.
 * Nothing else in the tree defines a record shape: TypeScript types below mirror the Avro schemas
 * field for field (energy as bigint-free integers: watt-hours fit in a JS number exactly up to
 * 2^53 Wh, far beyond any meter), and a test checks the two agree.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

/** The topics a fleet writes to, and the record each carries. */
export const TOPICS = {
  interval: 'pev.eumd-interval',
  sessionEvent: 'pev.session-event',
  vehicleReport: 'pev.vehicle-report',
  enrollment: 'pev.enrollment',
} as const;
export type RecordKind = keyof typeof TOPICS;
export const RECORD_KINDS = Object.keys(TOPICS) as RecordKind[];

/** Subject under Confluent's TopicNameStrategy. */
export function subjectOf(kind: RecordKind): string {
  return `${TOPICS[kind]}-value`;
}

export interface EumdInterval {
  esci_id: string;
  eumd_id: string;
  premise_id: string;
  pev_id: string;
  session_id: string;
  seq: number;
  interval_start: number;
  interval_s: number;
  energy_wh: number;
  register_wh: number;
  quality: number;
}

export interface VehicleReport {
  session_id: string;
  pev_id: string;
  esci_id: string;
  report_time: number;
  running_wh: number;
}

export interface Enrollment {
  pev_id: string;
  premise_id: string;
  account_id: string;
  program_id: string;
  tariff_id: string;
  esci_id: string;
  eumd_id: string;
  valid_from: number;
  /** A wrapped union (AVRO_OPTIONS.wrapUnions): null, or { long: epoch ms }. */
  valid_to: { long: number } | null;
  rated_power_w: number;
}

export type Connection = 'CORDSET' | 'PREMISE_EVSE';
export type BindingResult = 'BOUND' | 'AUTH_FAILED' | 'NOT_ENROLLED';
export type DelayReason = 'NONE' | 'OFF_PEAK' | 'DEMAND_RESPONSE' | 'RANDOM_DELAY';

export interface SessionStart { connection: Connection; binding: BindingResult; plug_in_time: number }
export interface EnergyRequest { requested_wh: number; max_rate_w: number; departure_time: number }
export interface EnergyAvailable {
  granted_wh: number;
  rate_w: number;
  schedule_start: number;
  schedule_end: number;
  delay_reason: DelayReason;
}
export interface Progress { running_wh: number; intervals: number }
export interface SessionEnd { start_time: number; end_time: number; duration_s: number; energy_wh: number }

/**
 * avsc represents a union of named records as an object with one key, the record's full name
 * (`wrapUnions`), so the branch is explicit on the wire and in code.
 */
export type SessionEventBody =
  | { 'pevmeter.v1.SessionStart': SessionStart }
  | { 'pevmeter.v1.EnergyRequest': EnergyRequest }
  | { 'pevmeter.v1.EnergyAvailable': EnergyAvailable }
  | { 'pevmeter.v1.Progress': Progress }
  | { 'pevmeter.v1.SessionEnd': SessionEnd };

export interface SessionEvent {
  session_id: string;
  event_seq: number;
  esci_id: string;
  premise_id: string;
  pev_id: string;
  event_time: number;
  body: SessionEventBody;
}

export interface RecordOf {
  interval: EumdInterval;
  sessionEvent: SessionEvent;
  vehicleReport: VehicleReport;
  enrollment: Enrollment;
}

/** Root of the package (the folder holding package.json), from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('pevmeter: package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const SCHEMAS_DIR = join(packageRoot(), 'schemas');

interface SubjectsFile {
  subjects: Record<string, { record: string; versions: { version: number; id: number; file: string }[] }>;
}

export interface SchemaVersion {
  subject: string;
  kind: RecordKind;
  version: number;
  id: number;
  /** The schema as JSON text (what a registry stores and returns). */
  text: string;
  type: avro.Type;
}

/**
 * Avro type options used everywhere: unions are wrapped so a branch is named, and the
 * `timestamp-millis` logical type stays a plain number of milliseconds (no Date objects on the
 * hot path).
 */
export const AVRO_OPTIONS = { wrapUnions: true } as const;

export function parseSchema(text: string): avro.Type {
  // A fresh options object per parse: avsc stores its name registry on the options it is given,
  // and a shared registry would make two versions of one record name collide.
  return avro.Type.forSchema(JSON.parse(text) as avro.Schema, { ...AVRO_OPTIONS });
}

function kindOfSubject(subject: string): RecordKind {
  for (const kind of RECORD_KINDS) if (subjectOf(kind) === subject) return kind;
  throw new Error(`pevmeter: subject ${subject} in schemas/subjects.json matches no topic`);
}

let cache: SchemaVersion[] | undefined;

/** Every schema version in `schemas/subjects.json`, the one source of schema IDs. */
export function localSchemas(): SchemaVersion[] {
  if (cache) return cache;
  const file = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'subjects.json'), 'utf8')) as SubjectsFile;
  const out: SchemaVersion[] = [];
  for (const [subject, entry] of Object.entries(file.subjects)) {
    const kind = kindOfSubject(subject);
    for (const v of entry.versions) {
      const text = readFileSync(join(SCHEMAS_DIR, v.file), 'utf8');
      out.push({ subject, kind, version: v.version, id: v.id, text, type: parseSchema(text) });
    }
  }
  cache = out;
  return out;
}

/** The newest version of a record kind's schema: what producers write with. */
export function latestSchema(kind: RecordKind): SchemaVersion {
  let best: SchemaVersion | undefined;
  for (const s of localSchemas()) if (s.kind === kind && (!best || s.version > best.version)) best = s;
  if (!best) throw new Error(`pevmeter: no schema for ${kind} in schemas/subjects.json`);
  return best;
}

export function schemaById(id: number): SchemaVersion | undefined {
  return localSchemas().find((s) => s.id === id);
}

/**
 * The ClickHouse migrations, in file-name order: every `schemas/clickhouse/NNN_name.sql`, with
 * `{db}` placeholders. A migration states the oldest server it runs on in a header line
 * `-- min-server: X.Y` (18.16 when absent).
 */
export function clickhouseMigrations(): { name: string; sql: string; minServer: string }[] {
  const dir = join(SCHEMAS_DIR, 'clickhouse');
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = readFileSync(join(dir, f), 'utf8');
      const minServer = /^-- min-server: (\d+\.\d+)$/m.exec(sql)?.[1] ?? '18.16';
      return { name: f.replace(/\.sql$/, ''), sql, minServer };
    });
}
