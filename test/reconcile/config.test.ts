import t from 'tap';
import { readFileSync } from 'node:fs';
import { configHash, loadReconcileConfig, parsePriceMicro, resolveConfig } from '../../reconcile/config.js';
import { FLAG_CODES } from '../../reconcile/types.js';

void t.test('defaults', (t) => {
  const c = resolveConfig({});
  t.match(c.rules, {
    gap: { severity: 'warn', maxMissing: 0 },
    qualityGate: { severity: 'hold', maxMissingShare: 0.1 },
    vehicleMismatch: { severity: 'hold', toleranceShare: 0.05, toleranceWh: 50 },
    clock: { futureToleranceS: 300, beforeStartToleranceS: 60, jumpToleranceS: 0 },
  });
  t.same(Object.keys(c.tariffs), ['EV-TOU-2026', 'EV-FLAT-2026']);
  t.same(Object.keys(c.programs), ['EV-TOU-OFFPEAK', 'EV-FLAT']);
  t.same(c.sessions, { maxSpanDays: 7, batchSessions: 65_536 });
  t.equal(configHash(c), configHash(resolveConfig({})), 'the hash is stable');
  t.not(configHash(c), configHash(resolveConfig({ rules: { gap: { maxMissing: 1 } } })));
  t.end();
});

void t.test('errors name the option', (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['unknown top-level key', { rulez: {} }, /\(top level\): .*rulez/],
    ['unknown rule', { rules: { gapp: {} } }, /rules: .*gapp/],
    ['unknown rule option', { rules: { gap: { maxMisssing: 1 } } }, /rules\.gap: .*maxMisssing/],
    ['bad severity', { rules: { spike: { severity: 'block' } } }, /rules\.spike\.severity/],
    ['negative threshold', { rules: { vehicleMismatch: { toleranceWh: -1 } } }, /rules\.vehicleMismatch\.toleranceWh/],
    ['price as a number', { tariffs: { T: { timeZone: 'UTC', currency: 'USD', defaultPeriod: 'a', prices: { a: 12.5 } } }, programs: {} }, /tariffs\.T\.prices\.a/],
    ['price with 7 decimals', { tariffs: { T: { timeZone: 'UTC', currency: 'USD', defaultPeriod: 'a', prices: { a: '1.1234567' } } }, programs: {} }, /tariffs\.T\.prices\.a/],
    ['unknown time zone', { tariffs: { T: { timeZone: 'Mars/Olympus', currency: 'USD', defaultPeriod: 'a', prices: { a: '1' } } }, programs: {} }, /tariffs\.T\.timeZone: unknown IANA time zone/],
    ['window period without a price', { tariffs: { T: { timeZone: 'UTC', currency: 'USD', defaultPeriod: 'a', windows: [{ period: 'b', from: '01:00', to: '02:00' }], prices: { a: '1' } } }, programs: {} }, /tariffs\.T\.prices\.b: period b has no price/],
    ['bad wall time', { tariffs: { T: { timeZone: 'UTC', currency: 'USD', defaultPeriod: 'a', windows: [{ period: 'a', from: '25:00', to: '02:00' }], prices: { a: '1' } } }, programs: {} }, /tariffs\.T\.windows\.0\.from/],
    ['empty window', { tariffs: { T: { timeZone: 'UTC', currency: 'USD', defaultPeriod: 'a', windows: [{ period: 'a', from: '02:00', to: '02:00' }], prices: { a: '1' } } }, programs: {} }, /tariffs\.T\.windows\.0\.to/],
    ['program on an unknown tariff', { programs: { P: { tariff: 'NOPE' } } }, /programs\.P\.tariff: tariff NOPE is not in tariffs/],
    ['restricted period not in the tariff', { programs: { P: { tariff: 'EV-FLAT-2026', restrictedPeriods: ['peak'] } } }, /programs\.P\.restrictedPeriods\.0/],
    ['credit above a price', { programs: { P: { tariff: 'EV-FLAT-2026', incentive: { creditPerKwh: '40' } } } }, /programs\.P\.incentive\.creditPerKwh: credit 40 exceeds the flat price 33\.6/],
    ['lower-case program ID', { programs: { 'ev-flat': { tariff: 'EV-FLAT-2026' } } }, /programs\.ev-flat/],
  ];
  for (const [name, input, message] of cases) t.throws(() => resolveConfig(input), { code: 'PEV_CONFIG', message }, name);
  t.end();
});

void t.test('files: YAML and JSON; a missing file is named', (t) => {
  const dir = t.testdir({
    'r.yaml': 'rules:\n  qualityGate:\n    maxMissingShare: 0.2\nreport:\n  maxHeldSessions: 3\n',
    'r.json': JSON.stringify({ rules: { spike: { slackWh: 4 } } }),
    'list.yaml': '- 1\n- 2\n',
  });
  t.equal(loadReconcileConfig(`${dir}/r.yaml`).rules.qualityGate.maxMissingShare, 0.2);
  t.equal(loadReconcileConfig(`${dir}/r.yaml`).report.maxHeldSessions, 3);
  t.equal(loadReconcileConfig(`${dir}/r.json`).rules.spike.slackWh, 4);
  t.throws(() => loadReconcileConfig(`${dir}/missing.yaml`), { code: 'PEV_CONFIG', message: /missing\.yaml cannot be read/ });
  t.throws(() => loadReconcileConfig(`${dir}/list.yaml`), { code: 'PEV_CONFIG', message: /mapping at the top level/ });
  t.equal(loadReconcileConfig().rules.gap.maxMissing, 0, 'no file: defaults');
  t.end();
});

void t.test('prices parse exactly into millionths of a minor unit', (t) => {
  const cases: [string, number][] = [['31.2', 31_200_000], ['0.000001', 1], ['48.5', 48_500_000], ['5', 5_000_000], ['123456789.999999', 123_456_789_999_999]];
  for (const [text, micro] of cases) t.equal(parsePriceMicro(text), micro, text);
  t.throws(() => parsePriceMicro('1e3'), { code: 'PEV_CONFIG' });
  t.throws(() => parsePriceMicro('-1'), { code: 'PEV_CONFIG' });
  t.end();
});

/** Every leaf option under rules, sessions and report, with its default. */
function leaves(tree: unknown, prefix: string, out: [string, unknown][] = []): [string, unknown][] {
  if (tree !== null && typeof tree === 'object' && !Array.isArray(tree)) {
    for (const [k, v] of Object.entries(tree)) leaves(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.push([prefix, tree]);
  }
  return out;
}

void t.test('docs/reconcile.md documents every option with its default, and every flag code', (t) => {
  const doc = readFileSync(new URL('../../docs/reconcile.md', import.meta.url), 'utf8');
  const c = resolveConfig({});
  for (const [path, def] of leaves({ rules: c.rules, sessions: c.sessions, report: c.report, cycles: { defaultDay: c.cycles.defaultDay, timeZone: c.cycles.timeZone } }, '')) {
    t.match(doc, `| \`${path}\` | \`${String(def)}\` |`, path);
  }
  for (const key of ['timeZone', 'currency', 'defaultPeriod', 'windows', 'prices', 'holidays', 'versions']) t.match(doc, `| \`tariffs.<id>.${key}\` |`, `tariffs.<id>.${key}`);
  for (const key of ['tariff', 'restrictedPeriods', 'incentive.creditPerKwh', 'incentive.periods', 'incentive.withheldOn', 'versions']) t.match(doc, `| \`programs.<id>.${key}\` |`, `programs.<id>.${key}`);
  t.match(doc, '| `cycles.accounts` |', 'cycles.accounts');
  for (const code of FLAG_CODES) t.match(doc, `| \`${code}\` |`, code);
  t.end();
});
