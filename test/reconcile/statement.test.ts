/**
 * The customer's statement in a real browser (Debian's Chromium, headless, playwright-core, as the
 * report test): for every account of a bill cycle its totals equal the billing records to the
 * minor unit, each session's amount is its record's, each warn flag is explained in plain words,
 * local times are shown, nothing is fetched. A screenshot is left for a person (path printed).
 */
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { resolveConfig } from '../../reconcile/config.js';
import { money } from '../../reconcile/report.js';
import { reconcileCycle } from '../../reconcile/run.js';
import { PLAIN_WORDS, durationText, loadStatement, periodText, priceText, renderStatement, statementCsv } from '../../reconcile/statement.js';
import { localToUtc } from '../../schemas/calendar.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, sid } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const LA = 'America/Los_Angeles';
const la = (y: number, m: number, d: number, hh: number, mm = 0, ss = 0): number => localToUtc(LA, y, m, d, hh * 60 + mm) + ss * 1000;
const e = (n: number, wh = 100): number[] => Array.from({ length: n }, () => wh);

void t.test('formatting', (t) => {
  t.equal(priceText(31_200_000), '31.2');
  t.equal(priceText(24_750_000), '24.75');
  t.equal(priceText(-5_000_000), '-5');
  t.equal(priceText(1), '0.000001');
  t.equal(periodText('off_peak'), 'Off-peak');
  t.equal(periodText('super_off_peak@2026-10-15'), 'Super-off-peak (rates from 2026-10-15)');
  t.equal(durationText(30 * 60_000), '30 min');
  t.equal(durationText(125 * 60_000), '2 h 05 min');
  t.end();
});

const A = { pevId: '1HGCM82633A000001', premiseId: 'P000000001', esciId: 'ESCI-00000001', eumdId: 'EUMD-00000001', accountId: 'A000000001' };
const B = { pevId: '1HGCM82633A000002', premiseId: 'P000000002', esciId: 'ESCI-00000002', eumdId: 'EUMD-00000002', accountId: 'A000000002' };

void t.test('statements of a cycle: totals equal the billing records, in Chromium', { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}` }, async (t) => {
  const store = await tempStore(t, { database: 'rstatement' });
  const cfg = resolveConfig({
    cycles: { accounts: { A000000002: 5 } },
    tariffs: {
      'EV-TOU-2026': {
        timeZone: LA, currency: 'USD', defaultPeriod: 'off_peak',
        windows: [{ period: 'peak', from: '16:00', to: '21:00' }, { period: 'super_off_peak', from: '00:00', to: '06:00' }],
        prices: { peak: '48.5', off_peak: '31.2', super_off_peak: '24.75' },
        versions: [{ effectiveFrom: '2026-10-15', prices: { off_peak: '40' } }],
      },
      'EV-FLAT-2026': { timeZone: LA, currency: 'USD', defaultPeriod: 'flat', prices: { flat: '33.6' } },
    },
  });
  const fx = new Fixture().enroll(A).enroll({ ...B, programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
  // A (cycle day 1, time of use): off-peak evening, a peak charge (OFF_SCHEDULE: no credit), a
  // session across midnight into the new rates, one with a missing reading (GAP), one unfinished.
  fx.session({ sessionId: sid(1), ...A, energies: e(30), startMs: la(2026, 10, 3, 22) });
  fx.session({ sessionId: sid(2), ...A, energies: e(45, 120), startMs: la(2026, 10, 7, 17, 15) });
  fx.session({ sessionId: sid(3), ...A, energies: e(40), startMs: la(2026, 10, 14, 23, 40) });
  fx.session({ sessionId: sid(4), ...A, energies: e(30), drop: [12], startMs: la(2026, 10, 21, 22) });
  fx.session({ sessionId: sid(5), ...A, energies: e(30), end: null, vehicleWh: null, startMs: la(2026, 10, 30, 22) });
  // B (cycle day 5, flat): one before its cycle (October 4: September's), two in it (to Nov 5).
  fx.session({ sessionId: sid(11), ...B, energies: e(60, 110), startMs: la(2026, 10, 4, 20) });
  fx.session({ sessionId: sid(12), ...B, energies: e(30), startMs: la(2026, 10, 12, 19) });
  fx.session({ sessionId: sid(13), ...B, energies: e(30), startMs: la(2026, 11, 2, 21) });
  await fx.write(store);
  const run = await reconcileCycle(store, '2026-10', {}, cfg, { asOfMs: la(2026, 11, 10, 0) });
  t.match(run, { billed: 7, held: 0 });

  const profile = mkdtempSync(join(tmpdir(), 'pevmeter-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1000, height: 900 },
  });
  t.teardown(() => context.close());
  const dir = mkdtempSync(join(tmpdir(), 'pevmeter-statement-'));

  for (const [acct, expected] of [[A.accountId, [sid(1), sid(2), sid(3), sid(4), sid(5)]], [B.accountId, [sid(12), sid(13)]]] as const) {
    const recs = await store.select<{ session_id: string; energy_wh: string; amount_minor: string; incentive_minor: string; warn_codes: string[] }>(
      "SELECT session_id, energy_wh, amount_minor, incentive_minor, warn_codes FROM {db}.billing_cycle(cycle = '2026-10', account = {a:String}) ORDER BY session_id",
      { a: acct },
    );
    t.same(recs.map((r) => r.session_id), [...expected], `${acct}: the records of its cycle`);
    const sum = (k: 'energy_wh' | 'amount_minor' | 'incentive_minor'): number => recs.reduce((s, r) => s + Number(r[k]), 0);
    const s = await loadStatement(store, acct, { cycle: '2026-10' });
    t.same([s.sessions.length, s.energyWh, s.amountMinor, s.incentiveMinor], [recs.length, sum('energy_wh'), sum('amount_minor'), sum('incentive_minor')], `${acct}: statement totals = billing records`);
    t.equal(s.energyMinor + s.incentiveMinor, s.amountMinor, 'charges + credits = total');

    const html = renderStatement(s);
    t.notMatch(html, /<script|https?:\/\//, 'no script, no external URL');
    const file = join(dir, `${acct}.html`);
    writeFileSync(file, html);
    const csv = statementCsv(s);
    writeFileSync(join(dir, `${acct}.csv`), csv);
    const csvRows = csv.trim().split('\n').slice(1).map((l) => l.split(','));
    const perSession = new Map<string, number>();
    let lineSum = 0;
    for (const r of csvRows.slice(0, -1)) {
      perSession.set(r[2]!, Number(r[10]));
      lineSum += Number(r[15]);
    }
    t.equal([...perSession.values()].reduce((a, b) => a + b, 0), sum('amount_minor'), `${acct}: CSV sessions add up`);
    t.equal(lineSum, sum('amount_minor'), `${acct}: CSV lines add up`);
    t.same(csvRows.at(-1)!.slice(9, 11).map(Number), [sum('energy_wh'), sum('amount_minor')], `${acct}: CSV total row`);

    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href);
    t.same(requests, [pathToFileURL(file).href], 'the page loads nothing but itself');
    const total = async (key: string): Promise<string> => (await page.locator(`[data-total="${key}"] .value`).innerText()).trim();
    t.equal(await total('amount'), money(sum('amount_minor'), 'USD'), `${acct}: the total shown`);
    t.equal(await total('credits'), money(sum('incentive_minor'), 'USD'));
    t.equal(await total('sessions'), String(recs.length));
    t.equal((await page.locator('[data-foot="amount"]').innerText()).trim(), money(sum('amount_minor'), 'USD'));
    for (const r of recs) {
      const shown = await page.locator(`tr[data-session="${r.session_id}"] [data-amount-minor]`).getAttribute('data-amount-minor');
      t.equal(Number(shown), Number(r.amount_minor), `${r.session_id}: its record's amount`);
      const cells = page.locator(`tr[data-session-line="${r.session_id}"] [data-line-minor]`);
      const lines: number[] = [];
      for (let i = 0; i < (await cells.count()); i++) lines.push(Number(await cells.nth(i).getAttribute('data-line-minor')));
      t.equal(lines.reduce((a, b) => a + b, 0), Number(r.amount_minor), `${r.session_id}: lines add up to it`);
      for (const code of r.warn_codes) {
        t.equal((await page.locator(`tr[data-note="${code}"][data-note-session="${r.session_id}"]`).innerText()).trim(), PLAIN_WORDS[code], `${r.session_id}: ${code} in plain words`);
      }
    }
    if (acct === A.accountId) {
      const codes = Object.fromEntries(recs.map((r) => [r.session_id, [...r.warn_codes].sort()]));
      t.same(codes, { [sid(1)]: [], [sid(2)]: ['OFF_SCHEDULE'], [sid(3)]: [], [sid(4)]: ['GAP'], [sid(5)]: ['UNFINISHED', 'VEHICLE_MISSING'] }, 'the warn flags the bills carry');
      t.equal((await page.locator(`tr[data-session="${sid(2)}"] td`).nth(1).innerText()).trim(), '17:15 PDT', 'local start: the bill\'s session start');
      t.match(await page.locator(`tr[data-session-line="${sid(3)}"]`).allInnerTexts(), [/^Off-peak\t2\.000 kWh\t31\.2 ¢\/kWh\tUSD 0\.62$/, /^Super-off-peak \(rates from 2026-10-15\)\t2\.000 kWh\t24\.75 ¢\/kWh\tUSD 0\.50$/, /^Program credit\t4\.000 kWh\t-5 ¢\/kWh\tUSD -0\.20$/], 'across the rate change at midnight: two energy lines and the credit');
      t.equal(await page.locator(`tr[data-session-line="${sid(3)}"]`).count(), 3);
      t.equal(await page.locator(`tr[data-session-line="${sid(2)}"][data-line="incentive"]`).count(), 0, 'OFF_SCHEDULE: no credit');
    }
    const shot = join(dir, `${acct}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    t.ok(existsSync(shot));
    t.comment(`statement: ${file}`);
    t.comment(`screenshot: ${shot}`);
    await page.close();
  }
});
