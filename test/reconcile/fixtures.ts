/**
 * Raw rows for reconciliation tests, written the way ingest writes them (TSV in INSERT_COLUMNS
 * order through Store.insertTsv), from a compact description of a session.
 */
import { escapeTsv } from '../../aggregate/store/tsv.js';
import type { Store } from '../../aggregate/store/types.js';
import { INSERT_COLUMNS, type RawTable } from '../../schemas/tables.js';
import { latestSchema } from '../../schemas/index.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from '../../ingest/codec/framing.js';

export const T0 = Date.UTC(2026, 9, 5, 5, 0, 0); // 2026-10-04 22:00 PDT

export interface SessionSpec {
  sessionId: string;
  esciId?: string;
  eumdId?: string;
  premiseId?: string;
  pevId?: string;
  /** First interval start, UTC ms (default T0). */
  startMs?: number;
  intervalS?: number;
  energies: number[];
  /** Register reading before the first interval. */
  register0?: number;
  /** Overrides by index. */
  seqs?: number[];
  starts?: Record<number, number>;
  registers?: Record<number, number>;
  lens?: Record<number, number>;
  /** Indexes not delivered. */
  drop?: number[];
  /** EUMD quality bits by index (0 elsewhere). */
  quality?: Record<number, number>;
  /** Later copies: index and the energy they carry (same energy: a resend). */
  copies?: { index: number; energyWh: number }[];
  plugInMs?: number;
  binding?: string;
  grantedWh?: number | null;
  rateW?: number;
  delayReason?: string;
  /** null: no end summary. */
  end?: { energyWh?: number; durationS?: number; endMs?: number; startMs?: number } | null;
  progress?: { runningWh: number; intervals: number } | null;
  /** Final vehicle running total; null: none. */
  vehicleWh?: number | null;
  /** Records other than intervals report this premise (wrong_premise). */
  eventPremiseId?: string;
}

export interface EnrollmentSpec {
  pevId: string;
  premiseId: string;
  accountId: string;
  programId: string;
  tariffId: string;
  esciId: string;
  eumdId: string;
  validFromMs?: number;
  validToMs?: number;
  ratedPowerW?: number;
}

export const DEFAULT_IDS = {
  esciId: 'ESCI-0000000A',
  eumdId: 'EUMD-0000000A',
  premiseId: 'P000000001',
  pevId: '1HGCM82633A004352',
  accountId: 'A000000001',
};

type Value = string | number;

export class Fixture {
  private readonly rows: Record<RawTable, Value[][]> = {
    interval_raw: [],
    session_event_raw: [],
    vehicle_report_raw: [],
    enrollment: [],
    dead_letter: [],
  };
  private offset = 0;

  enroll(e: Partial<EnrollmentSpec> = {}): this {
    const x = {
      pevId: DEFAULT_IDS.pevId,
      premiseId: DEFAULT_IDS.premiseId,
      accountId: DEFAULT_IDS.accountId,
      programId: 'EV-TOU-OFFPEAK',
      tariffId: 'EV-TOU-2026',
      esciId: DEFAULT_IDS.esciId,
      eumdId: DEFAULT_IDS.eumdId,
      validFromMs: Date.UTC(2025, 0, 1),
      validToMs: 0,
      ratedPowerW: 7200,
      ...e,
    };
    this.rows.enrollment.push([x.pevId, x.premiseId, x.accountId, x.programId, x.tariffId, x.esciId, x.eumdId, x.validFromMs, x.validToMs, x.ratedPowerW, 'pev.enrollment', 0, this.offset++, 0]);
    return this;
  }

  /** `payload`: the refused record as ingest keeps it (see intervalPayload), none by default. */
  deadLetter(sessionId: string, code: string, n = 1, payload: Uint8Array = new Uint8Array(0)): this {
    const base64 = Buffer.from(payload).toString('base64');
    for (let i = 0; i < n; i++) this.rows.dead_letter.push(['pev.eumd-interval', 0, this.offset++, 0, code, `${code} in test`, sessionId, base64, 0]);
    return this;
  }

  session(s: SessionSpec): this {
    const esci = s.esciId ?? DEFAULT_IDS.esciId;
    const eumd = s.eumdId ?? DEFAULT_IDS.eumdId;
    const premise = s.premiseId ?? DEFAULT_IDS.premiseId;
    const pev = s.pevId ?? DEFAULT_IDS.pevId;
    const evPremise = s.eventPremiseId ?? premise;
    const L = s.intervalS ?? 60;
    const t0 = s.startMs ?? T0;
    const n = s.energies.length;
    const drop = new Set(s.drop ?? []);
    let reg = s.register0 ?? 1_000_000;
    const regs: number[] = [];
    const starts: number[] = [];
    for (let k = 0; k < n; k++) {
      reg += s.energies[k]!;
      regs.push(s.registers?.[k] ?? reg);
      starts.push(s.starts?.[k] ?? t0 + k * L * 1000);
    }
    const total = s.energies.reduce((a, b) => a + b, 0);
    const interval = (k: number, energy: number): Value[] => [
      s.sessionId, s.seqs?.[k] ?? k, esci, eumd, premise, pev, Math.floor(starts[k]! / 1000), s.lens?.[k] ?? L, energy, regs[k]!, s.quality?.[k] ?? 0,
      'pev.eumd-interval', 0, this.offset++, 0,
    ];
    for (let k = 0; k < n; k++) if (!drop.has(k)) this.rows.interval_raw.push(interval(k, s.energies[k]!));
    for (const c of s.copies ?? []) this.rows.interval_raw.push(interval(c.index, c.energyWh));

    const plugIn = s.plugInMs ?? t0 - 30_000;
    const lastEnd = t0 + n * L * 1000;
    let seq = 0;
    const event = (type: string, time: number, f: Partial<Record<string, Value>>): void => {
      const v: Record<string, Value> = {
        connection: '', binding: '', plug_in_ms: 0, requested_wh: 0, max_rate_w: 0, departure_ms: 0, granted_wh: 0, rate_w: 0,
        schedule_start_ms: 0, schedule_end_ms: 0, delay_reason: '', running_wh: 0, intervals: 0, start_ms: 0, end_ms: 0,
        duration_s: 0, energy_wh: 0, ...f,
      };
      this.rows.session_event_raw.push([
        s.sessionId, seq++, type, esci, evPremise, pev, time, v['connection']!, v['binding']!, v['plug_in_ms']!, v['requested_wh']!,
        v['max_rate_w']!, v['departure_ms']!, v['granted_wh']!, v['rate_w']!, v['schedule_start_ms']!, v['schedule_end_ms']!,
        v['delay_reason']!, v['running_wh']!, v['intervals']!, v['start_ms']!, v['end_ms']!, v['duration_s']!, v['energy_wh']!,
        'pev.session-event', 0, this.offset++, 0,
      ]);
    };
    event('START', plugIn + 5_000, { connection: 'PREMISE_EVSE', binding: s.binding ?? 'BOUND', plug_in_ms: plugIn });
    event('REQUEST', plugIn + 6_000, { requested_wh: total + 1000, max_rate_w: 7200, departure_ms: lastEnd + 3_600_000 });
    if (s.grantedWh !== null) {
      event('AVAILABLE', plugIn + 7_000, {
        granted_wh: s.grantedWh ?? total + 500, rate_w: s.rateW ?? 7200, schedule_start_ms: t0, schedule_end_ms: lastEnd + 3_600_000,
        delay_reason: s.delayReason ?? 'NONE',
      });
    }
    if (s.progress !== undefined && s.progress !== null) {
      event('PROGRESS', lastEnd - 1000, { running_wh: s.progress.runningWh, intervals: s.progress.intervals });
    }
    if (s.end !== null) {
      const e = s.end ?? {};
      const startMs = e.startMs ?? t0;
      const endMs = e.endMs ?? lastEnd - 1000;
      event('END', lastEnd + 2_000, {
        start_ms: startMs, end_ms: endMs, duration_s: e.durationS ?? Math.round((endMs - startMs) / 1000), energy_wh: e.energyWh ?? total,
      });
    }
    const vehicle = s.vehicleWh === undefined ? total : s.vehicleWh;
    if (vehicle !== null) {
      this.rows.vehicle_report_raw.push([s.sessionId, lastEnd - 60_000, pev, esci, Math.round(vehicle / 2), 'pev.vehicle-report', 0, this.offset++, 0]);
      this.rows.vehicle_report_raw.push([s.sessionId, lastEnd - 1000, pev, esci, vehicle, 'pev.vehicle-report', 0, this.offset++, 0]);
    }
    return this;
  }

  async write(store: Store): Promise<void> {
    for (const table of Object.keys(this.rows) as RawTable[]) {
      const rows = this.rows[table];
      if (rows.length === 0) continue;
      const width = INSERT_COLUMNS[table].length;
      let text = '';
      for (const r of rows) {
        if (r.length !== width) throw new Error(`fixture row for ${table} has ${r.length} values, expected ${width}`);
        text += r.map((v) => (typeof v === 'number' ? String(v) : escapeTsv(v))).join('\t') + '\n';
      }
      await store.insertTsv(table, [Buffer.from(text, 'utf8')]);
      rows.length = 0;
    }
  }
}

/** A session ID from a number: 'S-' and 16 lower-case hex digits. */
export function sid(n: number): string {
  return 'S-' + n.toString(16).padStart(16, '0');
}

/**
 * An interval record of the default IDs as a dead letter carries it: Confluent-framed as read
 * from Kafka, or the bare Avro body as read from a container file.
 */
export function intervalPayload(sessionId: string, seq: number, framed: boolean): Uint8Array {
  const schema = latestSchema('interval');
  const body = schema.type.toBuffer({
    session_id: sessionId, seq, esci_id: DEFAULT_IDS.esciId, eumd_id: DEFAULT_IDS.eumdId, premise_id: DEFAULT_IDS.premiseId, pev_id: DEFAULT_IDS.pevId,
    interval_start: T0 + seq * 60_000, interval_s: 60, energy_wh: -5, register_wh: 1_000_000, quality: 0,
  });
  if (!framed) return body;
  const out = Buffer.alloc(FRAME_HEADER_BYTES + body.length);
  body.copy(out, writeFrameHeader(out, 0, schema.id));
  return out;
}
