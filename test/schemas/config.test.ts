import t from 'tap';
import { readFileSync } from 'node:fs';
import { ENV_OPTIONS, loadConfig, redactedConfig, configSchema } from '../../schemas/config.js';

t.test('defaults resolve to one typed object', (t) => {
  const cfg = loadConfig({ env: {} });
  t.equal(cfg.kafka.brokers, '127.0.0.1:19092');
  t.equal(cfg.store.kind, 'embedded');
  t.equal(cfg.store.database, 'pevmeter');
  t.equal(cfg.pipeline.shutdownTimeoutMs, 30_000);
  t.equal(cfg.pipeline.clockSkewMs, 300_000);
  t.equal(cfg.http.host, '127.0.0.1');
  t.end();
});

t.test('file < environment < flags', (t) => {
  const dir = t.testdir({ 'c.yaml': 'kafka:\n  brokers: file:1\n  groupId: g-file\nstore:\n  database: fromfile\n' });
  const cfg = loadConfig({
    file: `${dir}/c.yaml`,
    env: { PEVMETER_KAFKA_GROUP_ID: 'g-env', PEVMETER_CLICKHOUSE_DATABASE: 'fromenv', PEVMETER_WORKERS: '3' },
    flags: { 'store.database': 'fromflag' },
  });
  t.equal(cfg.kafka.brokers, 'file:1');
  t.equal(cfg.kafka.groupId, 'g-env');
  t.equal(cfg.store.database, 'fromflag');
  t.equal(cfg.pipeline.workers, 3);
  t.end();
});

t.test('errors name the option', (t) => {
  t.throws(() => loadConfig({ env: {}, flags: { 'pipeline.workers': 0 } }), { code: 'PEV_CONFIG', message: /pipeline\.workers/ });
  t.throws(() => loadConfig({ env: {}, flags: { 'store.database': 'x; DROP' } }), { code: 'PEV_CONFIG', message: /store\.database/ });
  const dir = t.testdir({ 'bad.yaml': 'store:\n  pasword: x\n' });
  t.throws(() => loadConfig({ env: {}, file: `${dir}/bad.yaml` }), { code: 'PEV_CONFIG', message: /store.*pasword/ });
  t.throws(() => loadConfig({ env: {}, file: `${dir}/missing.yaml` }), { code: 'PEV_CONFIG', message: /missing\.yaml/ });
  t.throws(() => loadConfig({ env: { PEVMETER_STORE: 'sqlite' } }), { code: 'PEV_CONFIG', message: /store\.kind/ });
  t.end();
});

t.test('librdkafka settings pass through, SASL secrets from the environment', (t) => {
  const dir = t.testdir({ 'k.yaml': 'kafka:\n  rdkafka:\n    security.protocol: SASL_SSL\n    sasl.mechanisms: PLAIN\n' });
  const cfg = loadConfig({ file: `${dir}/k.yaml`, env: { PEVMETER_KAFKA_SASL_USERNAME: 'u', PEVMETER_KAFKA_SASL_PASSWORD: 's3cret-pw' } });
  t.same(cfg.kafka.rdkafka, { 'security.protocol': 'SASL_SSL', 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'u', 'sasl.password': 's3cret-pw' });
  const shown = JSON.stringify(redactedConfig(cfg));
  t.notMatch(shown, /s3cret-pw/);
  t.end();
});

t.test('redaction hides every password and token', (t) => {
  const cfg = loadConfig({ env: { PEVMETER_CLICKHOUSE_PASSWORD: 'ch-pass-1', PEVMETER_REGISTRY_TOKEN: 'tok-2', PEVMETER_REGISTRY_PASSWORD: 'reg-3' } });
  const shown = JSON.stringify(redactedConfig(cfg));
  for (const s of ['ch-pass-1', 'tok-2', 'reg-3']) t.notMatch(shown, s);
  t.end();
});

t.test('every option and environment variable is documented in docs/configuration.md', (t) => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const walk = (shape: Record<string, unknown>, prefix: string): string[] =>
    Object.entries(shape).flatMap(([k, v]) => {
      const def = (v as { def?: { innerType?: { shape?: Record<string, unknown> }; shape?: Record<string, unknown> } }).def;
      const inner = def?.innerType?.shape ?? def?.shape;
      return inner && k !== 'rdkafka' ? walk(inner, `${prefix}${k}.`) : [`${prefix}${k}`];
    });
  const paths = walk(configSchema.shape, '');
  t.ok(paths.length >= 30, `found ${paths.length} options`);
  for (const p of paths) t.match(doc, `\`${p}\``, `${p} documented`);
  for (const name of Object.keys(ENV_OPTIONS)) t.match(doc, name, `${name} documented`);
  t.end();
});
