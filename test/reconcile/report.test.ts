/**
 * The report in a real browser: Debian's Chromium, headless, driven by playwright-core. The page
 * must show the run's numbers (totals, sessions per flag code), draw the histogram with its band
 * and one chart per held session shown, and fetch nothing but itself. A screenshot is left in a
 * temp folder for a person to look at (its path is printed).
 */
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { resolveConfig } from '../../reconcile/config.js';
import { group, kwh, money, renderReport } from '../../reconcile/report.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import { FLAG_CODES } from '../../reconcile/types.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, T0, sid } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const PERIOD = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const e = (n: number, wh = 110): number[] => Array.from({ length: n }, () => wh);

void t.test('number formatting is integer arithmetic', (t) => {
  t.equal(group(1234567), '1,234,567');
  t.equal(group(-1000), '-1,000');
  t.equal(group(999), '999');
  t.equal(kwh(123456), '123.456');
  t.equal(kwh(5), '0.005');
  t.equal(kwh(-1500), '-1.500');
  t.equal(money(12345, 'USD'), 'USD 123.45');
  t.equal(money(-7, 'USD'), 'USD -0.07');
  t.equal(money(1200, 'JPY'), 'JPY 1,200');
  t.end();
});

void t.test('the report renders in Chromium with the run numbers', { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}` }, async (t) => {
  const store = await tempStore(t, { database: 'rreport' });
  const fx = new Fixture().enroll();
  for (let k = 1; k <= 12; k++) fx.session({ sessionId: sid(k), energies: e(40), startMs: T0 + k * 86_400_000 });
  fx.session({ sessionId: sid(20), energies: e(40), drop: [9, 10, 11, 12, 13, 14], startMs: T0 + 13 * 86_400_000 });
  fx.session({ sessionId: sid(21), energies: e(40), copies: [{ index: 20, energyWh: 90 }], startMs: T0 + 14 * 86_400_000 });
  fx.session({ sessionId: sid(22), energies: e(40), vehicleWh: 5300, startMs: T0 + 15 * 86_400_000 });
  const spiky = e(40);
  spiky[25] = 900;
  fx.session({ sessionId: sid(23), energies: spiky, grantedWh: 6000, vehicleWh: 40 * 110 + 790, startMs: T0 + 16 * 86_400_000 });
  fx.session({ sessionId: sid(24), energies: e(40), drop: [30], startMs: T0 + 17 * 86_400_000 });
  fx.deadLetter(sid(24), 'PEV_NEGATIVE_ENERGY');
  fx.session({ sessionId: sid(25), energies: e(40), end: null, startMs: T0 + 18 * 86_400_000 });
  fx.session({ sessionId: sid(26), energies: e(40), vehicleWh: 4450, startMs: T0 + 19 * 86_400_000 });
  await fx.write(store);
  const cfg = resolveConfig({ report: { maxHeldSessions: 4 } });
  const run = await reconcilePeriod(store, PERIOD, {}, cfg, { asOfMs: Date.UTC(2026, 10, 2) });
  t.match(run, { sessions: 19, held: 5, billed: 14 });
  t.match(run.flags, {
    GAP: { sessions: 2, warn: 2, hold: 0 },
    QUALITY_GATE: { sessions: 1, hold: 1 },
    DUPLICATE_CONFLICT: { sessions: 1, hold: 1 },
    VEHICLE_MISMATCH: { sessions: 1, hold: 1 },
    SPIKE: { sessions: 1, hold: 1 },
    NEGATIVE: { sessions: 1, hold: 1 },
    UNFINISHED: { sessions: 1, warn: 1 },
  });
  t.equal(run.heldSamples.length, 4);

  const html = renderReport(run);
  t.notMatch(html, /<script|https?:\/\//, 'no script, no external URL');
  const dir = mkdtempSync(join(tmpdir(), 'pevmeter-report-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, html);

  const profile = mkdtempSync(join(tmpdir(), 'pevmeter-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1240, height: 900 },
  });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href);
  t.same(requests, [pathToFileURL(file).href], 'the page loads nothing but itself');

  const total = async (key: string): Promise<string> => (await page.locator(`[data-total="${key}"] .value`).innerText()).trim();
  t.equal(await total('sessions'), '19');
  t.equal(await total('billed'), '14');
  t.equal(await total('held'), '5');
  t.equal(await total('billedWh'), `${kwh(run.billedWh)} kWh`);
  t.equal(await total('amount'), money(run.amountMinor['USD']!, 'USD'));
  for (const code of FLAG_CODES) {
    const row = page.locator(`tr[data-code="${code}"]`);
    const cells = await row.locator('td.num').allInnerTexts();
    const f = run.flags[code];
    t.same(cells, [group(f.sessions), group(f.warn), group(f.hold)], `flags row ${code}`);
  }
  t.equal(await page.locator('#histogram rect[data-count]').count(), run.histogram.counts.filter((c) => c > 0).length, 'one bar per non-empty bin');
  t.equal(await page.locator('#histogram rect[data-band]').getAttribute('data-band'), '5', 'the ±5% band is drawn');
  t.equal(await page.locator('[data-held-session]').count(), 4, 'held sessions capped at 4');
  t.match(await page.locator('#held-note').innerText(), /Showing 4 of 5 held sessions/);
  t.equal(await page.locator(`[data-held-session="${sid(20)}"] rect[data-gap]`).count(), 1, 'the gap is shaded');
  t.equal(await page.locator(`[data-held-session="${sid(20)}"] [data-local-start]`).innerText(), '2026-10-17T22:00:00-07:00 (2026-10-18T05:00:00Z)', 'local time beside UTC');
  t.match(await page.locator('[data-period-local]').innerText(), /^2026-10-01T00:00:00-07:00 to 2026-11-01T00:00:00-07:00 \(America\/Los_Angeles\)$/);
  t.equal(await page.locator(`[data-held-session="${sid(21)}"] rect[data-mark="DUPLICATE_CONFLICT"]`).count(), 1, 'the conflicting interval is marked');
  t.equal(await page.locator(`[data-held-session="${sid(23)}"] rect[data-mark="SPIKE"]`).count(), 1, 'the spike is marked');
  const box = await page.locator('#histogram').boundingBox();
  t.ok(box !== null && box.width > 700 && box.height > 200, 'histogram laid out');

  const shot = join(dir, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.ok(existsSync(shot));
  t.comment(`report: ${file}`);
  t.comment(`screenshot: ${shot}`);
});
