/**
 * Insert column lists of the raw tables in `schemas/clickhouse/001_ingest_tables.sql`, in the
 * order the decode workers write TabSeparated rows. MATERIALIZED columns (content_hash,
 * arrival_rank) are computed by ClickHouse and never sent. A test checks these lists against the
 * DDL, so the two cannot drift.
 */
export const INSERT_COLUMNS = {
  interval_raw: [
    'session_id', 'seq', 'esci_id', 'eumd_id', 'premise_id', 'pev_id', 'interval_start', 'interval_s',
    'energy_wh', 'register_wh', 'quality', 'src_topic', 'src_partition', 'src_offset', 'ingested_ms',
  ],
  session_event_raw: [
    'session_id', 'event_seq', 'event_type', 'esci_id', 'premise_id', 'pev_id', 'event_time_ms',
    'connection', 'binding', 'plug_in_ms', 'requested_wh', 'max_rate_w', 'departure_ms', 'granted_wh',
    'rate_w', 'schedule_start_ms', 'schedule_end_ms', 'delay_reason', 'running_wh', 'intervals',
    'start_ms', 'end_ms', 'duration_s', 'energy_wh', 'src_topic', 'src_partition', 'src_offset', 'ingested_ms',
  ],
  vehicle_report_raw: [
    'session_id', 'report_time_ms', 'pev_id', 'esci_id', 'running_wh', 'src_topic', 'src_partition',
    'src_offset', 'ingested_ms',
  ],
  enrollment: [
    'pev_id', 'premise_id', 'account_id', 'program_id', 'tariff_id', 'esci_id', 'eumd_id', 'valid_from_ms',
    'valid_to_ms', 'rated_power_w', 'src_topic', 'src_partition', 'src_offset', 'ingested_ms',
  ],
  dead_letter: [
    'src_topic', 'src_partition', 'src_offset', 'record_index', 'code', 'message', 'session_id', 'payload_base64', 'ingested_ms',
  ],
} as const;

export type RawTable = keyof typeof INSERT_COLUMNS;
export const RAW_TABLES = Object.keys(INSERT_COLUMNS) as RawTable[];

/** The table each record kind lands in. */
export const TABLE_OF_KIND = {
  interval: 'interval_raw',
  sessionEvent: 'session_event_raw',
  vehicleReport: 'vehicle_report_raw',
  enrollment: 'enrollment',
} as const satisfies Record<string, RawTable>;

/** session_event_raw.event_type for each SessionEvent body branch. */
export const EVENT_TYPES = {
  'pevmeter.v1.SessionStart': 'START',
  'pevmeter.v1.EnergyRequest': 'REQUEST',
  'pevmeter.v1.EnergyAvailable': 'AVAILABLE',
  'pevmeter.v1.Progress': 'PROGRESS',
  'pevmeter.v1.SessionEnd': 'END',
} as const;
