/**
 * The run report's review section: every session of the run with an operator's action in effect,
 * what the action was (who, when, why) and what the run did with it (applied, re-held with the
 * reason, not needed). Rows carry data-* attributes with the raw values, as the rest of the report.
 */
import type { ReviewSummary } from './apply.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export function reviewSection(r: ReviewSummary): string {
  const head = `<p class="note" id="review-note" data-sessions="${r.sessions}" data-applied="${r.applied}" data-reheld="${r.reheld}" data-not-needed="${r.notNeeded}">` +
    `${r.sessions} session${r.sessions === 1 ? '' : 's'} with a review action: ${r.applied} applied, ${r.reheld} re-held by new data, ${r.notNeeded} not needed` +
    `${r.items.length < r.sessions ? ` (the first ${r.items.length} shown)` : ''}. Actions recorded after the run started are applied by the next run (pevmeter review show).</p>`;
  if (r.items.length === 0) return head;
  const rows = r.items.map((x) =>
    `<tr data-review-session="${esc(x.sessionId)}" data-action="${x.action}" data-action-id="${esc(x.actionId)}" data-outcome="${x.outcome}" data-status="${esc(x.status)}" data-session-wh="${x.sessionWh}">` +
    `<td class="code">${esc(x.sessionId)}</td><td>${x.action}</td><td>${esc(x.operator)}</td><td>${esc(new Date(x.createdMs).toISOString())}</td>` +
    `<td>${esc(x.reason)}</td><td>${x.outcome}</td><td>${esc(x.status)}</td><td class="num">${x.sessionWh}</td><td>${esc(x.note)}</td></tr>`,
  );
  return head + `<table id="review"><thead><tr><th>session</th><th>action</th><th>operator</th><th>at</th><th>reason</th><th>outcome</th><th>status</th><th>session Wh</th><th>note</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}
