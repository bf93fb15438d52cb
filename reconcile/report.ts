/**
 * The run report: one self-contained HTML file (inline CSS and SVG, no script, no external asset)
 * that a person can open anywhere: totals, flags by code, the vehicle-versus-EUMD histogram with
 * the tolerance band, and for each held session shown (capped; the page says how many were left
 * out) its minute-by-minute energy with gaps shaded and flagged intervals marked.
 *
 * Numbers are printed from the run's integers: Wh as Wh (and kWh with three decimals by string
 * arithmetic), money from minor units by the currency's decimals, never through a float.
 * Elements carry data-* attributes with the raw values, for tests and for anyone scraping.
 */
import { formatLocal } from '../schemas/calendar.js';
import { RULES } from './rules/index.js';
import type { HeldSample, RunSummary } from './run.js';
import { reviewSection } from './review/report.js';
import { FLAG_CODES, type FlagCode } from './types.js';

const SUMMARY_OF: Partial<Record<FlagCode, string>> = Object.fromEntries(RULES.map((r) => [r.code, r.summary]));
SUMMARY_OF.ADJUSTMENT = 'a billing record differs from the exported version (new version written)';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** 1234567 -> "1,234,567" (integers only). */
export function group(n: number): string {
  const neg = n < 0;
  const s = String(Math.abs(n));
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ',';
    out += s[i];
  }
  return (neg ? '-' : '') + out;
}

/** Wh as kWh with three decimals, by string arithmetic. */
export function kwh(wh: number): string {
  const neg = wh < 0;
  const a = Math.abs(wh);
  return `${neg ? '-' : ''}${group(Math.floor(a / 1000))}.${String(a % 1000).padStart(3, '0')}`;
}

/** Minor units as a currency amount: 12345 USD -> "USD 123.45". */
export function money(minor: number, currency: string): string {
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    digits = 2;
  }
  const neg = minor < 0;
  const a = Math.abs(minor);
  const unit = 10 ** digits;
  const whole = group(Math.floor(a / unit));
  const frac = digits > 0 ? '.' + String(a % unit).padStart(digits, '0') : '';
  return `${currency} ${neg ? '-' : ''}${whole}${frac}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Local time in a zone, then UTC: "2026-10-04T22:00:00-07:00 (2026-10-05T05:00:00Z)". */
function localAndUtc(tz: string, ms: number): string {
  return tz === 'UTC' ? iso(ms) : `${formatLocal(tz, ms)} (${iso(ms)})`;
}

const CSS = `
:root { --ink:#1d2430; --muted:#5b6577; --line:#d9dee7; --bg:#f6f7f9; --card:#fff; --warn:#b7791f; --hold:#c53030; --ok:#2f855a; --bar:#3b6ea8; --band:#c6f6d5; --gap:#fed7d7; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
header { background: #1d2430; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 20px; font-weight: 600; }
header .meta { color: #c3cad6; font-size: 12.5px; }
header .meta span { margin-right: 18px; white-space: nowrap; }
main { padding: 20px 28px 40px; max-width: 1180px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.held .value { color: var(--hold); }
.card.billed .value { color: var(--ok); }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef1f5; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.zero td { color: #a0a8b5; }
.sev { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11.5px; font-weight: 600; }
.sev.hold { background: #fde8e8; color: var(--hold); }
.sev.warn { background: #fdf3e1; color: var(--warn); }
.code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.barcell { width: 28%; }
.note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.session { margin-top: 14px; }
.session h3 { margin: 0 0 4px; font-size: 14px; }
.session .ids { color: var(--muted); font-size: 12.5px; }
.flags { margin: 8px 0; padding: 0; list-style: none; }
.flags li { margin: 3px 0; font-size: 12.5px; }
.kv { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 11.5px; color: var(--muted); }
svg text { font: 11px -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #5b6577; }
`;

function cards(s: RunSummary): string {
  const currencies = Object.keys(s.amountMinor).sort();
  const amount = currencies.length === 0 ? '0' : currencies.map((c) => money(s.amountMinor[c] ?? 0, c)).join(' + ');
  const incentive = currencies.map((c) => money(s.incentiveMinor[c] ?? 0, c)).join(' + ');
  const r = s.records;
  const card = (cls: string, label: string, value: string, sub: string, key: string, raw: number | string): string =>
    `<div class="card ${cls}" data-total="${key}" data-value="${esc(String(raw))}"><div class="label">${label}</div><div class="value">${value}</div><div class="sub">${sub}</div></div>`;
  return `<div class="cards">
${card('', 'Sessions', group(s.sessions), 'touching the period', 'sessions', s.sessions)}
${card('billed', 'Billed', group(s.billed), `${s.sessions === 0 ? 0 : Math.round((s.billed * 1000) / s.sessions) / 10}% of sessions`, 'billed', s.billed)}
${card('held', 'Held', group(s.held), 'not billed until reviewed', 'held', s.held)}
${card('', 'Billed energy', `${kwh(s.billedWh)} kWh`, `${group(s.billedWh)} Wh inside the period`, 'billedWh', s.billedWh)}
${card('', 'Amount', esc(amount), `incentives ${esc(incentive || '0')}`, 'amount', currencies.map((c) => `${c}:${s.amountMinor[c] ?? 0}`).join(' '))}
${card('', 'EUMD energy', `${kwh(s.eumdWh)} kWh`, 'all sessions, whole sessions', 'eumdWh', s.eumdWh)}
${card('', 'Records', group(r.created + r.rewritten + r.newVersions + r.voided), `${r.created} new, ${r.rewritten} rewritten, ${r.newVersions} new versions, ${r.voided} void, ${r.unchanged} unchanged`, 'recordsWritten', r.created + r.rewritten + r.newVersions + r.voided)}
${card(s.adjustments > 0 ? 'held' : '', 'Adjustments', group(s.adjustments), 'changes to exported records', 'adjustments', s.adjustments)}
</div>`;
}

function flagTable(s: RunSummary): string {
  const max = Math.max(1, ...FLAG_CODES.map((c) => s.flags[c].sessions));
  const rows = FLAG_CODES.map((c) => {
    const f = s.flags[c];
    const w = Math.round((f.sessions / max) * 200);
    const holdW = f.sessions === 0 ? 0 : Math.round((f.hold / Math.max(1, f.warn + f.hold)) * w);
    const bar = `<svg width="210" height="14" role="img" aria-label="${c} ${f.sessions} sessions"><rect x="0" y="2" width="${w - holdW}" height="10" fill="#d69e2e"/><rect x="${w - holdW}" y="2" width="${holdW}" height="10" fill="#c53030"/></svg>`;
    return `<tr class="${f.sessions === 0 ? 'zero' : ''}" data-code="${c}" data-sessions="${f.sessions}" data-warn="${f.warn}" data-hold="${f.hold}">
<td class="code">${c}</td><td>${esc(SUMMARY_OF[c] ?? '')}</td><td class="num">${group(f.sessions)}</td><td class="num">${group(f.warn)}</td><td class="num">${group(f.hold)}</td><td class="barcell">${bar}</td></tr>`;
  }).join('\n');
  return `<table id="flags"><thead><tr><th>Code</th><th>Rule</th><th class="num">Sessions</th><th class="num">Warn</th><th class="num">Hold</th><th>Share <span style="color:#d69e2e">warn</span> / <span style="color:#c53030">hold</span></th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function histogram(s: RunSummary): string {
  const h = s.histogram;
  const W = 760;
  const H = 232;
  const L = 44;
  const B = 34;
  const T = 26;
  const bins = h.counts.length;
  const max = Math.max(1, ...h.counts);
  const bw = (W - L - 10) / bins;
  const x = (pct: number): number => L + ((pct + h.rangePercent) / (2 * h.rangePercent)) * (W - L - 10);
  const y = (n: number): number => H - B - (n / max) * (H - B - T);
  const band = h.toleranceShare * 100;
  let out = `<svg id="histogram" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="vehicle minus EUMD, percent">`;
  out += `<rect x="${x(-band)}" y="${T}" width="${x(band) - x(-band)}" height="${H - B - T}" fill="#c6f6d5" data-band="${band}"/>`;
  out += `<text x="${(x(-band) + x(band)) / 2}" y="${T - 8}" text-anchor="middle" style="fill:#2f855a">tolerance ±${band}% (or ±${h.toleranceWh} Wh, the larger)</text>`;
  for (let i = 0; i < bins; i++) {
    const c = h.counts[i]!;
    if (c === 0) continue;
    const from = -h.rangePercent + i * h.binPercent;
    const inside = from >= -band && from + h.binPercent <= band;
    out += `<rect x="${(L + i * bw + 0.5).toFixed(1)}" y="${y(c).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${(H - B - y(c)).toFixed(1)}" fill="${inside ? '#3b6ea8' : '#c53030'}" data-bin="${from}" data-count="${c}"><title>${from}% to ${from + h.binPercent}%: ${c} sessions</title></rect>`;
  }
  out += `<line x1="${L}" y1="${H - B}" x2="${W - 10}" y2="${H - B}" stroke="#9aa3b2"/>`;
  out += `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#9aa3b2"/>`;
  const step = h.rangePercent <= 10 ? 2 : h.rangePercent <= 30 ? 5 : 10;
  for (let p = -h.rangePercent; p <= h.rangePercent; p += step) {
    out += `<line x1="${x(p)}" y1="${H - B}" x2="${x(p)}" y2="${H - B + 4}" stroke="#9aa3b2"/><text x="${x(p)}" y="${H - B + 16}" text-anchor="middle">${p > 0 ? '+' : ''}${p}%</text>`;
  }
  out += `<text x="${L - 6}" y="${T + 4}" text-anchor="end">${group(max)}</text><text x="${L - 6}" y="${H - B}" text-anchor="end">0</text>`;
  out += `<text x="${(L + W) / 2}" y="${H - 4}" text-anchor="middle">(vehicle − EUMD) / EUMD, percent, per session</text>`;
  out += '</svg>';
  return `<div class="panel">${out}<p class="note" data-hist="summary" data-with-vehicle="${h.withVehicle}" data-below="${h.below}" data-above="${h.above}">${group(h.withVehicle)} sessions with a vehicle total and EUMD energy; ${group(h.below)} below −${h.rangePercent}%, ${group(h.above)} above +${h.rangePercent}% (not drawn). Blue bars lie inside the relative band; small sessions may also pass on the absolute band.</p></div>`;
}

const MARK_COLORS: Record<string, string> = { SPIKE: '#805ad5', NEGATIVE: '#c53030', DUPLICATE_CONFLICT: '#dd6b20', CLOCK: '#2b6cb0' };

function minuteChart(h: HeldSample): string {
  const W = 760;
  const H = 150;
  const L = 44;
  const B = 28;
  const T = 16;
  const MIN = 60_000;
  const spanStart = Math.floor(Math.min(h.startMs, ...h.gapRanges.map((g) => g[0]), ...h.minutes.map((m) => m[0])) / MIN) * MIN;
  const spanEnd = Math.ceil(Math.max(h.endMs, ...h.gapRanges.map((g) => g[1]), ...h.minutes.map((m) => m[0] + MIN)) / MIN) * MIN;
  const minutes = Math.max(1, (spanEnd - spanStart) / MIN);
  const x = (t: number): number => L + ((t - spanStart) / (spanEnd - spanStart || 1)) * (W - L - 10);
  const max = Math.max(1, ...h.minutes.map((m) => Math.abs(m[1])));
  const zero = H - B;
  const y = (wh: number): number => zero - (Math.max(0, wh) / max) * (H - B - T);
  let out = `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="energy per minute of ${esc(h.sessionId)}" data-session="${esc(h.sessionId)}">`;
  const bw = Math.max(0.6, (W - L - 10) / minutes - 0.3);
  const inGap = (t: number): boolean => h.gapRanges.some(([a, b]) => t + MIN > a && t < b);
  for (const [t, wh] of h.minutes) {
    const top = wh >= 0 ? y(wh) : zero;
    const hgt = wh >= 0 ? zero - y(wh) : Math.min(20, (Math.abs(wh) / max) * (H - B - T));
    // Inside a gap the energy is the register's, spread over the missing time: drawn lighter.
    const fill = wh < 0 ? '#c53030' : inGap(t) ? '#a9c1de' : '#3b6ea8';
    out += `<rect x="${x(t).toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(2)}" height="${Math.max(0.5, hgt).toFixed(1)}" fill="${fill}"/>`;
  }
  for (const [a, b] of h.gapRanges) {
    const gx = x(a);
    const gw = Math.max(2, x(b) - x(a));
    out += `<rect x="${gx.toFixed(1)}" y="${T}" width="${gw.toFixed(1)}" height="${H - B - T}" fill="#e53e3e" fill-opacity="0.16" stroke="#e53e3e" stroke-dasharray="3 2" data-gap="${a}"><title>missing intervals ${iso(a)} to ${iso(b)} (energy from the register)</title></rect>`;
    out += `<text x="${(gx + gw / 2).toFixed(1)}" y="${T + 11}" text-anchor="middle" style="fill:#c53030">gap</text>`;
  }
  for (const [a, b, code] of h.marks) {
    out += `<rect x="${x(a).toFixed(1)}" y="${T - 10}" width="${Math.max(3, x(b) - x(a)).toFixed(1)}" height="6" fill="${MARK_COLORS[code] ?? '#2d3748'}" data-mark="${code}"><title>${code} ${iso(a)}</title></rect>`;
  }
  out += `<line x1="${L}" y1="${zero}" x2="${W - 10}" y2="${zero}" stroke="#9aa3b2"/>`;
  out += `<text x="${L - 6}" y="${T + 4}" text-anchor="end">${group(max)}</text><text x="${L - 6}" y="${zero}" text-anchor="end">0</text>`;
  out += `<text x="${L}" y="${H - 8}">${iso(spanStart)}</text><text x="${W - 10}" y="${H - 8}" text-anchor="end">${iso(spanEnd)} · Wh per UTC minute</text>`;
  out += '</svg>';
  return out;
}

function heldSection(s: RunSummary): string {
  const shown = s.heldSamples.length;
  const head = `<p class="note" id="held-note" data-shown="${shown}" data-held="${s.held}">Showing ${group(shown)} of ${group(s.held)} held sessions${
    shown < s.held ? ` (the ${group(shown)} with the smallest session IDs; report.maxHeldSessions is ${s.heldSampleCap})` : ''
  }. Red dashed bands: missing intervals (their energy, from the register, drawn lighter). Marks above the bars: intervals a flag points at (<span style="color:#805ad5">spike</span>, <span style="color:#c53030">negative</span>, <span style="color:#dd6b20">conflict</span>, <span style="color:#2b6cb0">clock</span>).</p>`;
  const items = s.heldSamples.map((h) => {
    const flags = h.flags
      .map((f) => `<li data-flag="${f.code}"><span class="sev ${f.severity}">${f.severity}</span> <span class="code">${f.code}</span> <span class="kv">observed ${esc(JSON.stringify(f.observed))} · threshold ${esc(JSON.stringify(f.threshold))}${f.detail ? ' · ' + esc(f.detail) : ''}</span></li>`)
      .join('');
    const facts = [
      `EUMD ${group(h.eumdWh)} Wh`,
      `intervals ${group(h.intervalSumWh)} Wh`,
      `vehicle ${h.vehicleWh === null ? '—' : group(h.vehicleWh) + ' Wh'}`,
      `ESCI summary ${h.summaryWh === null ? '—' : group(h.summaryWh) + ' Wh'}`,
    ].join(' · ');
    return `<div class="panel session" data-held-session="${esc(h.sessionId)}"><h3 class="code">${esc(h.sessionId)}</h3>
<div class="ids">account ${esc(h.accountId || '—')} · premise ${esc(h.premiseId || '—')} · PEV ${esc(h.pevId)} · <span data-local-start>${esc(localAndUtc(h.timeZone, h.startMs))}</span> to ${esc(localAndUtc(h.timeZone, h.endMs))} · ${facts}</div>
<ul class="flags">${flags}</ul>${minuteChart(h)}</div>`;
  });
  return head + items.join('\n');
}

/** The report of a run, as one HTML document. */
export function renderReport(s: RunSummary): string {
  const filters = Object.entries(s.filters).filter(([, v]) => v !== undefined && v !== '');
  const seconds = (s.finishedMs - s.startedMs) / 1000;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pevmeter reconciliation ${esc(iso(s.period.fromMs))} to ${esc(iso(s.period.toMs))}</title>
<style>${CSS}</style></head>
<body>
<header><h1>${s.cycle === '' ? `Reconciliation: ${esc(iso(s.period.fromMs))} to ${esc(iso(s.period.toMs))}` : `Reconciliation: bill cycle ${esc(s.cycle)}`}</h1>
<div class="meta" data-period-local>${s.cycle === ''
    ? `${esc(formatLocal(s.timeZone, s.period.fromMs))} to ${esc(formatLocal(s.timeZone, s.period.toMs))} (${esc(s.timeZone)})`
    : `each account's own cycle period, in its program's time zone; sessions read from ${esc(iso(s.period.fromMs))} to ${esc(iso(s.period.toMs))}`}</div>
<div class="meta"><span>run ${esc(s.runId)}</span><span>as of ${esc(iso(s.asOfMs))}</span><span>filters ${filters.length === 0 ? 'none' : esc(filters.map(([k, v]) => `${k}=${String(v)}`).join(', '))}</span><span>config ${esc(s.configSha256.slice(0, 12))}</span><span>${seconds.toFixed(1)} s, ${group(s.sessionsPerSecond)} sessions/s</span></div></header>
<main>
<h2>Totals</h2>
${cards(s)}
<h2>Flags by code</h2>
${flagTable(s)}
<p class="note">A session counts once per code. Held sessions carry at least one hold flag; warn flags are billed and printed on the bill.</p>
<h2>Vehicle versus EUMD</h2>
${histogram(s)}
<h2>Held sessions</h2>
${heldSection(s)}
<h2>Review actions</h2>
${reviewSection(s.review)}
</main></body></html>
`;
}
