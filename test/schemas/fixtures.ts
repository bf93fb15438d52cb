/** One valid example record per kind, shared by schema and decode tests. */
import type { RecordOf, RecordKind } from '../../schemas/index.js';

export const EXAMPLES: { [K in RecordKind]: RecordOf[K] } = {
  interval: {
    esci_id: 'ESCI-00A1B2C3',
    eumd_id: 'EUMD-00D4E5F6',
    premise_id: 'P000123456',
    pev_id: '1HGCM82633A004352',
    session_id: 'S-0123456789abcdef',
    seq: 7,
    interval_start: Date.UTC(2026, 9, 1, 22, 7, 0),
    interval_s: 60,
    energy_wh: 120,
    register_wh: 1_234_567,
    quality: 0,
  },
  sessionEvent: {
    session_id: 'S-0123456789abcdef',
    event_seq: 4,
    esci_id: 'ESCI-00A1B2C3',
    premise_id: 'P000123456',
    pev_id: '1HGCM82633A004352',
    event_time: Date.UTC(2026, 9, 2, 1, 0, 0),
    body: { 'pevmeter.v1.SessionEnd': { start_time: Date.UTC(2026, 9, 1, 22, 0, 0), end_time: Date.UTC(2026, 9, 2, 1, 0, 0), duration_s: 10_800, energy_wh: 21_600 } },
  },
  vehicleReport: {
    session_id: 'S-0123456789abcdef',
    pev_id: '1HGCM82633A004352',
    esci_id: 'ESCI-00A1B2C3',
    report_time: Date.UTC(2026, 9, 1, 23, 0, 0),
    running_wh: 7_150,
  },
  enrollment: {
    pev_id: '1HGCM82633A004352',
    premise_id: 'P000123456',
    account_id: 'A000000042',
    program_id: 'EV-TOU-OFFPEAK',
    tariff_id: 'TOU-EV-2026',
    esci_id: 'ESCI-00A1B2C3',
    eumd_id: 'EUMD-00D4E5F6',
    valid_from: Date.UTC(2026, 0, 1),
    valid_to: null,
    rated_power_w: 7_200,
  },
};
