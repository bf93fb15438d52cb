import t from 'tap';
import { parseBenchArgs, parseFlag, resolveBenchOptions } from '../../../bench/harness/options.js';

void t.test('defaults: the full run', (t) => {
  const o = resolveBenchOptions({ brokers: '127.0.0.1:19092', clickhouseUrl: undefined });
  t.equal(o.records, 2_000_000);
  t.same(o.recordsPerMessage, [1, 16, 64]);
  t.same(o.workers, [1, 2]);
  t.equal(o.latencyLoad, 0.5);
  t.equal(o.sessions, 100_000);
  t.same([...o.phases].sort(), ['e2e', 'latency', 'limits', 'memory', 'peer', 'scaling', 'server']);
  t.end();
});

void t.test('errors name the option', (t) => {
  t.throws(() => resolveBenchOptions({ records: 5 }), { code: 'PEV_CONFIG', message: /records/ });
  t.throws(() => resolveBenchOptions({ latencyLoad: 2 }), { code: 'PEV_CONFIG', message: /latencyLoad/ });
  t.throws(() => resolveBenchOptions({ phases: ['fast' as never] }), { code: 'PEV_CONFIG', message: /phases/ });
  t.throws(() => resolveBenchOptions({ nope: 1 } as never), { code: 'PEV_CONFIG', message: /"nope" is unknown/ });
  t.throws(() => parseFlag('no-equals'), { code: 'PEV_CONFIG' });
  t.end();
});

void t.test('command line', (t) => {
  const o = parseBenchArgs(['--records', '200_000', '--rpm', '1,16', '--workers', '2', '--only', 'e2e,limits', '--set', 'kafka.rdkafka.enable.partition.eof=true', '--set', 'pipeline.maxInflightUnits=4', '--no-kcat', '--brokers', 'h:1'])!;
  t.equal(o.records, 200_000);
  t.same(o.recordsPerMessage, [1, 16]);
  t.same(o.workers, [2]);
  t.same([...o.phases], ['e2e', 'limits']);
  t.same(o.pipelineFlags, { 'kafka.rdkafka.enable.partition.eof': true, 'pipeline.maxInflightUnits': 4 });
  t.equal(o.kcat, false);
  t.equal(o.brokers, 'h:1');
  t.end();
});
