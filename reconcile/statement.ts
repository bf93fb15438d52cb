/**
 * The customer's statement: per account and bill cycle (or period), the page a customer service
 * agent can send. Self-contained HTML (inline CSS, no script, no external asset) and a CSV with the
 * same numbers. Everything comes from the current billing records (what was or will be exported),
 * so its totals are the billing records' totals to the minor unit: each line's amount is the
 * stored rounded amount, and the totals are sums of those, never re-computed from prices.
 *
 * Each session: local date, start, duration (in the record's tariff zone, with the zone named),
 * energy, one line per time-of-use period and price, the incentive, and the warn flags the bill
 * carries, each explained in plain words for a customer. VOID records (a bill withdrawn after it
 * went out) are listed with their amount 0, so a customer sees why a session disappeared.
 */
import type { Command } from 'commander';
import { openStore, storeOptionsOf } from '../aggregate/store/connect.js';
import type { Store } from '../aggregate/store/types.js';
import { formatLocal, localFields } from '../schemas/calendar.js';
import { addStoreOptions, configFromFlags, type StoreFlags } from '../schemas/cli-options.js';
import { PevmeterError } from '../schemas/errors.js';
import { csvField } from './billing.js';
import { loadReconcileConfig } from './config.js';
import { parseCycle } from './cycles.js';
import { parsePeriod, periodZone } from './local-time.js';
import { checkOutput, writeOutput } from './output.js';
import { group, kwh, money } from './report.js';
import type { Period } from './types.js';

/** What each warn code on a bill means, for the customer (hold codes never reach a bill). */
export const PLAIN_WORDS: Record<string, string> = {
  GAP: 'Some of the meter\'s interval readings did not reach us. Your charger\'s meter counted all the energy, and we billed from its total.',
  REGISTER_RESET: 'The meter\'s counter restarted during this session (for example after a repair). We added up the energy before and after the restart.',
  VEHICLE_MISSING: 'Your vehicle did not report how much energy it received. We billed from the meter, as always.',
  ESCI_MISMATCH: 'The charging summary your home\'s energy device sent differs slightly from the meter. We billed from the meter.',
  UNFINISHED: 'This session had not ended when this statement was prepared. It is billed up to the last reading received; anything after it will appear as an adjustment.',
  EXCEEDS_GRANT: 'The car took more energy than the program had scheduled for this session.',
  OFF_SCHEDULE: 'Part of this charge was during on-peak hours, which the program asks customers to avoid. That energy is billed at the on-peak price, and the program credit does not apply to this session.',
  OUTSIDE_GRANT: 'Charging started before a scheduled delay (off-peak or demand response) had ended. The energy is billed at its time-of-use prices, and the program credit does not apply to this session.',
  ESTIMATED: 'Some interval readings were estimated by the meter (for example during an outage). The meter\'s total, which is measured, is what we billed.',
  ADJUSTMENT: 'This bill corrects one sent earlier: late meter data changed it.',
};

export interface StatementLine {
  kind: string;
  period: string;
  wh: number;
  priceMicro: number;
  amountMinor: number;
}

export interface StatementSession {
  sessionId: string;
  version: number;
  status: string;
  premiseId: string;
  pevId: string;
  tariffId: string;
  startMs: number;
  endMs: number;
  timeZone: string;
  energyWh: number;
  lines: StatementLine[];
  incentiveMinor: number;
  amountMinor: number;
  warnCodes: string[];
}

export interface Statement {
  accountId: string;
  /** '2026-10', or '' for a period statement. */
  cycle: string;
  /** The account's period (its cycle period, or the period asked for). */
  period: Period;
  currency: string;
  sessions: StatementSession[];
  energyWh: number;
  energyMinor: number;
  incentiveMinor: number;
  amountMinor: number;
}

const ROWS_SQL = `
SELECT period_from_ms, period_to_ms, session_id, version, status, premise_id, pev_id, tariff_id, currency, session_start_ms, session_end_ms,
  energy_wh, line_kind, line_period, line_wh, line_price_micro, line_amount_minor, incentive_minor, amount_minor, warn_codes, time_zone
FROM {db}.billing_record FINAL
WHERE account_id = {account:String} AND cycle = {cycle:String}
  AND ({cycle:String} != '' OR (period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64}))
ORDER BY session_id, version DESC, updated_ms DESC
LIMIT 1 BY session_id
`;

/** The statement of an account for a cycle (`{ cycle }`) or a period (`{ period }`), from the current billing records. */
export async function loadStatement(store: Store, accountId: string, sel: { cycle: string } | { period: Period }): Promise<Statement> {
  const cycle = 'cycle' in sel ? sel.cycle : '';
  const asked = 'period' in sel ? sel.period : { fromMs: 0, toMs: 0 };
  const rows = await store.select<Record<string, unknown>>(ROWS_SQL, { account: accountId, cycle, from_ms: asked.fromMs, to_ms: asked.toMs });
  const sessions: StatementSession[] = rows.map((r) => {
    const kinds = r['line_kind'] as string[];
    return {
      sessionId: String(r['session_id']),
      version: Number(r['version']),
      status: String(r['status']),
      premiseId: String(r['premise_id']),
      pevId: String(r['pev_id']),
      tariffId: String(r['tariff_id']),
      startMs: Number(r['session_start_ms']),
      endMs: Number(r['session_end_ms']),
      timeZone: String(r['time_zone']) || 'UTC',
      energyWh: Number(r['energy_wh']),
      lines: kinds.map((kind, i) => ({
        kind,
        period: (r['line_period'] as string[])[i] ?? '',
        wh: Number((r['line_wh'] as (string | number)[])[i]),
        priceMicro: Number((r['line_price_micro'] as (string | number)[])[i]),
        amountMinor: Number((r['line_amount_minor'] as (string | number)[])[i]),
      })),
      incentiveMinor: Number(r['incentive_minor']),
      amountMinor: Number(r['amount_minor']),
      warnCodes: r['warn_codes'] as string[],
    };
  });
  sessions.sort((a, b) => a.startMs - b.startMs || (a.sessionId < b.sessionId ? -1 : 1));
  const currencies = new Set(rows.map((r) => String(r['currency'])));
  if (currencies.size > 1) throw new PevmeterError('PEV_INPUT', `account ${accountId}: records in several currencies (${[...currencies].join(', ')}); one statement per currency is not supported`);
  const period = rows.length > 0 ? { fromMs: Number(rows[0]!['period_from_ms']), toMs: Number(rows[0]!['period_to_ms']) } : asked;
  let energyWh = 0;
  let energyMinor = 0;
  let incentiveMinor = 0;
  let amountMinor = 0;
  for (const s of sessions) {
    energyWh += s.energyWh;
    incentiveMinor += s.incentiveMinor;
    amountMinor += s.amountMinor;
    for (const l of s.lines) if (l.kind === 'energy') energyMinor += l.amountMinor;
  }
  return { accountId, cycle, period, currency: [...currencies][0] ?? 'USD', sessions, energyWh, energyMinor, incentiveMinor, amountMinor };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** Millionths of a minor unit per kWh as a decimal: 31_200_000 -> "31.2". */
export function priceText(micro: number): string {
  const a = Math.abs(micro);
  const frac = String(a % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  return `${micro < 0 ? '-' : ''}${Math.floor(a / 1_000_000)}${frac === '' ? '' : '.' + frac}`;
}

/** "off_peak@2026-10-15" -> "Off-peak (rates from 2026-10-15)". */
export function periodText(label: string): string {
  const [name, from] = label.split('@') as [string, string?];
  const words = name.split('_').join('-');
  const nice = words.charAt(0).toUpperCase() + words.slice(1);
  return from === undefined ? nice : `${nice} (rates from ${from})`;
}

const p2 = (n: number): string => String(n).padStart(2, '0');

function localDate(tz: string, ms: number): string {
  const f = localFields(tz, ms);
  return `${f.y}-${p2(f.m)}-${p2(f.d)}`;
}

function localClock(tz: string, ms: number): string {
  const f = localFields(tz, ms);
  const zone = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'short' }).formatToParts(new Date(ms)).find((x) => x.type === 'timeZoneName')?.value ?? tz;
  return `${p2(f.hh)}:${p2(f.mm)} ${zone}`;
}

export function durationText(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${p2(minutes % 60)} min` : `${minutes} min`;
}

const CSS = `
body { margin: 0; font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d2430; background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; }
.sub { color: #5b6577; margin-bottom: 20px; }
.totals { display: flex; gap: 14px; flex-wrap: wrap; margin: 16px 0 26px; }
.total { border: 1px solid #d9dee7; border-radius: 8px; padding: 10px 16px; min-width: 170px; }
.total .label { color: #5b6577; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.total .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.total.due .value { color: #1d4e89; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e6e9ef; vertical-align: top; }
th { font-size: 12px; color: #5b6577; text-transform: uppercase; letter-spacing: .04em; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.session td { border-top: 2px solid #c9d1dd; font-weight: 600; }
tr.line td { color: #39424f; font-weight: 400; }
tr.line td:first-child { padding-left: 24px; }
tr.note td { color: #8a5a00; background: #fff8e6; font-size: 13px; }
tr.void td { color: #8893a2; text-decoration: line-through; }
tfoot td { font-weight: 700; border-top: 2px solid #1d2430; }
.foot { color: #5b6577; font-size: 12px; margin-top: 22px; }
`;

/** The statement as one self-contained HTML page. */
export function renderStatement(s: Statement): string {
  const zones = [...new Set(s.sessions.map((x) => x.timeZone))];
  const zone = zones[0] ?? 'UTC';
  const title = s.cycle === '' ? `${localDate(zone, s.period.fromMs)} to ${localDate(zone, s.period.toMs - 1)}` : `bill cycle ${s.cycle}: ${localDate(zone, s.period.fromMs)} to ${localDate(zone, s.period.toMs - 1)}`;
  const cur = s.currency;
  let body = '';
  for (const x of s.sessions) {
    const voided = x.status === 'VOID';
    body += `<tr class="session${voided ? ' void' : ''}" data-session="${esc(x.sessionId)}"><td>${esc(localDate(x.timeZone, x.startMs))}</td><td>${esc(localClock(x.timeZone, x.startMs))}</td><td>${esc(durationText(x.endMs - x.startMs))}</td>`
      + `<td class="num" data-energy-wh="${x.energyWh}">${kwh(x.energyWh)} kWh</td><td></td><td class="num" data-amount-minor="${x.amountMinor}">${esc(money(x.amountMinor, cur))}</td></tr>\n`;
    for (const l of x.lines) {
      const what = l.kind === 'incentive' ? 'Program credit' : periodText(l.period);
      body += `<tr class="line" data-line="${esc(l.kind)}" data-session-line="${esc(x.sessionId)}"><td colspan="3">${esc(what)}</td><td class="num">${kwh(l.wh)} kWh</td><td class="num">${esc(priceText(l.priceMicro))} ¢/kWh</td><td class="num" data-line-minor="${l.amountMinor}">${esc(money(l.amountMinor, cur))}</td></tr>\n`;
    }
    if (voided) body += `<tr class="note"><td colspan="6">This charge was withdrawn: a bill sent earlier for this session no longer applies.</td></tr>\n`;
    for (const c of x.warnCodes) {
      body += `<tr class="note" data-note="${esc(c)}" data-note-session="${esc(x.sessionId)}"><td colspan="6">${esc(PLAIN_WORDS[c] ?? `Note on this session (${c}).`)}</td></tr>\n`;
    }
  }
  const total = (key: string, label: string, value: string, cls = ''): string => `<div class="total ${cls}" data-total="${key}"><div class="label">${label}</div><div class="value">${esc(value)}</div></div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>EV charging statement ${esc(s.accountId)} ${esc(title)}</title>
<style>${CSS}</style></head>
<body><main>
<h1>Home EV charging statement</h1>
<div class="sub">Account <b data-account>${esc(s.accountId)}</b> · <span data-title>${esc(title)}</span> · times in ${esc(zones.join(', ') || 'UTC')}</div>
<div class="totals">
${total('sessions', 'Charging sessions', group(s.sessions.filter((x) => x.status !== 'VOID').length))}
${total('energy', 'Energy', `${kwh(s.energyWh)} kWh`)}
${total('charges', 'Energy charges', money(s.energyMinor, cur))}
${total('credits', 'Program credits', money(s.incentiveMinor, cur))}
${total('amount', 'Total', money(s.amountMinor, cur), 'due')}
</div>
<table>
<thead><tr><th>Date</th><th>Start</th><th>Duration</th><th class="num">Energy</th><th class="num">Price</th><th class="num">Amount</th></tr></thead>
<tbody>
${body}</tbody>
<tfoot><tr><td colspan="3">Total</td><td class="num" data-foot="energy">${kwh(s.energyWh)} kWh</td><td></td><td class="num" data-foot="amount">${esc(money(s.amountMinor, cur))}</td></tr></tfoot>
</table>
<p class="foot">Energy is measured by the submeter of your home charger and priced by the time of day it was delivered (time-of-use periods), each line rounded to the cent. Prices are in cents per kWh. Statement of ${esc(formatLocal(zone, s.period.fromMs))} to ${esc(formatLocal(zone, s.period.toMs))}.</p>
</main></body></html>
`;
}

/** The statement as CSV: one row per bill line (a session without lines takes one), the same numbers as the page. */
export function statementCsv(s: Statement): string {
  const header = ['account_id', 'cycle', 'session_id', 'version', 'status', 'time_zone', 'local_date', 'local_start', 'duration_min', 'session_energy_wh', 'session_amount_minor', 'line_kind', 'line_period', 'line_wh', 'line_price_micro_per_kwh', 'line_amount_minor', 'warn_codes', 'notes'];
  let out = header.join(',') + '\n';
  for (const x of s.sessions) {
    const start = formatLocal(x.timeZone, x.startMs);
    const head = [s.accountId, s.cycle, x.sessionId, x.version, x.status, x.timeZone, start.slice(0, 10), start.slice(11, 16), Math.round((x.endMs - x.startMs) / 60_000), x.energyWh, x.amountMinor];
    const tail = [x.warnCodes.join(' '), x.warnCodes.map((c) => PLAIN_WORDS[c] ?? c).join(' ')];
    const lines = x.lines.length > 0 ? x.lines : [{ kind: x.status === 'VOID' ? 'void' : 'none', period: '', wh: 0, priceMicro: 0, amountMinor: 0 }];
    for (const l of lines) out += [...head, l.kind, l.period, l.wh, l.priceMicro, l.amountMinor, ...tail].map(csvField).join(',') + '\n';
  }
  out += ['total', s.cycle, '', '', '', '', '', '', '', s.energyWh, s.amountMinor, '', '', '', '', '', '', ''].map(csvField).join(',') + '\n';
  return out;
}

interface StatementFlags extends StoreFlags {
  account: string;
  cycle?: string;
  from?: string;
  to?: string;
  tz?: string;
  reconcileConfig?: string;
  out: string;
  csv?: string;
  force?: boolean;
}

export function registerStatementCommand(program: Command): void {
  addStoreOptions(
    program
      .command('statement')
      .description("an account's statement for a bill cycle or period, from its current billing records: self-contained HTML, optionally CSV")
      .requiredOption('--account <id>', 'the account')
      .option('--cycle <YYYY-MM>', 'the bill cycle (the account\'s own period of it)')
      .option('--from <time>', 'or the period reconciled with --from/--to (same forms as reconcile)')
      .option('--to <time>', 'period end, exclusive')
      .option('--tz <zone>', 'zone of local dates in --from/--to')
      .option('--reconcile-config <file>', 'the configuration (for the zone of local dates)')
      .requiredOption('--out <file>', 'the HTML statement')
      .option('--csv <file>', 'the same statement as CSV')
      .option('--force', 'replace existing files'),
  ).action(async (flags: StatementFlags) => {
    const force = flags.force === true;
    checkOutput(flags.out, { force, flag: '--out' });
    if (flags.csv !== undefined) checkOutput(flags.csv, { force, flag: '--csv' });
    let sel: { cycle: string } | { period: Period };
    if (flags.cycle !== undefined) sel = { cycle: parseCycle(flags.cycle).label };
    else if (flags.from !== undefined) sel = { period: parsePeriod(flags.from, flags.to, periodZone(loadReconcileConfig(flags.reconcileConfig), flags.tz !== undefined ? { tz: flags.tz } : {})) };
    else throw new PevmeterError('PEV_INPUT', 'give --cycle YYYY-MM or --from/--to');
    const store = await openStore(storeOptionsOf(configFromFlags(flags)));
    try {
      await store.migrate();
      const s = await loadStatement(store, flags.account, sel);
      writeOutput(flags.out, renderStatement(s), { force, flag: '--out' });
      if (flags.csv !== undefined) writeOutput(flags.csv, statementCsv(s), { force, flag: '--csv' });
      process.stdout.write(JSON.stringify({ account: s.accountId, cycle: s.cycle, sessions: s.sessions.length, energyWh: s.energyWh, amountMinor: s.amountMinor, currency: s.currency, out: flags.out, csv: flags.csv ?? null }) + '\n');
    } finally {
      await store.close();
    }
  });
}
