import t from 'tap';
import avro from 'avsc';
import { latestSchema, type EumdInterval, type VehicleReport } from '../../../schemas/index.js';
import { intervalPrefix, unionBranch, vehiclePrefix, writeLong, writeLongAt } from '../../../bench/sim/avro-write.js';

void t.test('writeLong is Avro zig-zag varint encoding (avsc agrees), across 32 bits and up to 2^53', (t) => {
  const long = avro.Type.forSchema('long');
  const buf = Buffer.alloc(16);
  const values = [0, 1, -1, 63, -64, 64, -65, 127, 128, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32, -(2 ** 32) - 7, 1_790_812_803_000, 4_070_908_800_000, 2 ** 52, -(2 ** 52), Number.MAX_SAFE_INTEGER - 1];
  for (const v of values) {
    const end = writeLong(buf, 0, v);
    t.same([...buf.subarray(0, end)], [...long.toBuffer(v)], `value ${v}`);
    t.equal(writeLongAt(buf, 0, Float64Array.of(7, v), 1), end);
    t.same([...buf.subarray(0, end)], [...long.toBuffer(v)], `value ${v} from an array`);
  }
  t.end();
});

void t.test('interval and vehicle records equal what avsc writes for the same record', (t) => {
  const interval: EumdInterval = {
    esci_id: 'ESCI-0A1B2C3D', eumd_id: 'EUMD-DEADBEEF', premise_id: 'P123456789', pev_id: '5YJ3E1EA7KF317000',
    session_id: 'S-0123456789abcdef', seq: 4711, interval_start: 1_790_812_860_000, interval_s: 60, energy_wh: -120,
    register_wh: 8_765_432_109, quality: 4,
  };
  const buf = Buffer.alloc(256);
  const prefix = intervalPrefix(interval.esci_id, interval.eumd_id, interval.premise_id, interval.pev_id, interval.session_id);
  let end = prefix.copy(buf, 0);
  for (const v of [interval.seq, interval.interval_start, interval.interval_s, interval.energy_wh, interval.register_wh, interval.quality]) end = writeLong(buf, end, v);
  t.same(buf.subarray(0, end), latestSchema('interval').type.toBuffer(interval));

  const report: VehicleReport = { session_id: interval.session_id, pev_id: interval.pev_id, esci_id: interval.esci_id, report_time: 1_790_812_900_123, running_wh: 12_345 };
  const vp = vehiclePrefix(report.session_id, report.pev_id, report.esci_id);
  end = writeLong(buf, writeLong(buf, vp.copy(buf, 0), report.report_time), report.running_wh);
  t.same(buf.subarray(0, end), latestSchema('vehicleReport').type.toBuffer(report));
  t.end();
});

void t.test('unionBranch finds a branch by short or full name', (t) => {
  const text = latestSchema('sessionEvent').text;
  t.equal(unionBranch(text, 'body', 'SessionStart'), 0);
  t.equal(unionBranch(text, 'body', 'Progress'), 3);
  t.equal(unionBranch(text, 'body', 'pevmeter.v1.SessionEnd'), 4);
  t.throws(() => unionBranch(text, 'body', 'Nope'), /no branch/);
  t.throws(() => unionBranch(text, 'session_id', 'x'), /not a union/);
  t.end();
});
