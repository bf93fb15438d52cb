import t from 'tap';
import { metricValue, procCpuSeconds } from '../../../bench/harness/watch.js';

const text = [
  '# HELP pevmeter_rows_written_total Rows durably written to ClickHouse, by table.',
  '# TYPE pevmeter_rows_written_total counter',
  'pevmeter_rows_written_total{table="interval_raw"} 40000',
  'pevmeter_rows_written_total{table="dead_letter"} 3',
  'pevmeter_rows_written_total_extra 7',
  'pevmeter_unit_seconds_sum 1.5',
  'pevmeter_unit_seconds_count 2',
].join('\n');

void t.test('reads one labelled series, or sums all of a name', (t) => {
  t.equal(metricValue(text, 'pevmeter_rows_written_total', 'table="interval_raw"'), 40_000);
  t.equal(metricValue(text, 'pevmeter_rows_written_total'), 40_003);
  t.equal(metricValue(text, 'pevmeter_unit_seconds_sum'), 1.5);
  t.equal(metricValue(text, 'pevmeter_missing'), 0);
  t.end();
});

void t.test('CPU seconds of a process from /proc', (t) => {
  const mine = procCpuSeconds(process.pid);
  t.ok(mine !== undefined && mine >= 0);
  t.equal(procCpuSeconds(2 ** 30), undefined);
  t.end();
});
