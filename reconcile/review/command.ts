/**
 * `pevmeter review`: an operator's view of held sessions and the actions on them.
 *
 *   review list [--code C] [--account A] [--from T --to T] [--status held|billed|all]
 *   review show SESSION
 *   review release|hold|accept-estimate SESSION --reason TEXT [--operator NAME]
 *   review correct SESSION --wh N --reason TEXT [--operator NAME]
 *
 * Actions are recorded, not applied: the next `pevmeter reconcile` of a period with the session
 * applies them (review/apply.ts). Text for a person by default, JSON with --json.
 */
import type { Command } from 'commander';
import { openStore, storeOptionsOf } from '../../aggregate/store/connect.js';
import type { Store } from '../../aggregate/store/types.js';
import { addStoreOptions, configFromFlags, type StoreFlags } from '../../schemas/cli-options.js';
import { PevmeterError } from '../../schemas/errors.js';
import { parseCycle } from '../cycles.js';
import { parseInstant } from '../run.js';
import { loadActions, type ReviewAction, type ReviewActionKind } from './actions.js';
import {
  act, actionViews, checkReason, holdCodes, loadRecords, loadResults, type ActionView, type RecordView, type SessionResult,
} from './state.js';

export interface ReviewIo {
  stdout: NodeJS.WritableStream;
}

export interface ListFlags extends StoreFlags {
  code?: string;
  account?: string;
  cycle?: string;
  from?: string;
  to?: string;
  status?: string;
  json?: boolean;
}

export interface ActFlags extends StoreFlags {
  reason?: string;
  operator?: string;
  wh?: string;
  json?: boolean;
}

export interface ListedSession extends SessionResult {
  holdCodes: string[];
  /** The action in effect, if any, and where it stands. */
  review: ActionView | null;
}

export interface SessionView {
  sessionId: string;
  results: SessionResult[];
  records: RecordView[];
  actions: ActionView[];
}

async function withStore<T>(flags: StoreFlags, given: Store | undefined, f: (s: Store) => Promise<T>): Promise<T> {
  if (given !== undefined) return f(given);
  const store = await openStore(storeOptionsOf(configFromFlags(flags)));
  try {
    await store.migrate();
    return await f(store);
  } finally {
    await store.close();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(':00.000Z', 'Z');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}

/** The held (or all) sessions' current results, with the action in effect on each. */
export async function listSessions(store: Store, flags: ListFlags): Promise<ListedSession[]> {
  const status = flags.status === undefined || flags.status === 'held' ? 'HELD' : flags.status === 'billed' ? 'BILLED' : flags.status === 'all' ? '' : null;
  if (status === null) throw new PevmeterError('PEV_INPUT', `--status must be held, billed or all, got ${JSON.stringify(flags.status)}`);
  if ((flags.from === undefined) !== (flags.to === undefined)) throw new PevmeterError('PEV_INPUT', '--from and --to go together');
  const fromMs = flags.from === undefined ? null : parseInstant('--from', flags.from);
  const toMs = flags.to === undefined ? null : parseInstant('--to', flags.to);
  if (flags.cycle !== undefined && fromMs !== null) throw new PevmeterError('PEV_INPUT', '--cycle or --from/--to, not both: a cycle is a period per account');
  const cycle = flags.cycle === undefined ? undefined : parseCycle(flags.cycle).label;
  const results = (await loadResults(store, { accountId: flags.account, code: flags.code, status, cycle }))
    .filter((r) => fromMs === null || (r.periodFromMs === fromMs && r.periodToMs === toMs));
  const views = actionViews(await loadActions(store), results);
  return results.map((r) => ({
    ...r,
    holdCodes: holdCodes(r),
    review: views.find((v) => v.sessionId === r.sessionId && v.state !== 'superseded') ?? null,
  }));
}

export async function showSession(store: Store, sessionId: string): Promise<SessionView> {
  const results = await loadResults(store, { sessionId, status: '' });
  if (results.length === 0) {
    throw new PevmeterError('PEV_REVIEW_UNKNOWN_SESSION', `no reconcile result for session ${JSON.stringify(sessionId)}: reconcile a period that contains it first, or check the ID (pevmeter review list)`);
  }
  const actions = actionViews(await loadActions(store, sessionId), results);
  return { sessionId, results, records: await loadRecords(store, sessionId), actions };
}

function reviewText(v: ActionView | null): string {
  if (v === null) return '-';
  const state = v.state === 'applied' ? v.outcome : 'PENDING';
  return `${v.action} ${state} by ${v.operator}${v.state === 'applied' && v.outcome === 'REHELD' ? `: ${v.note}` : ''}`;
}

export function listText(rows: readonly ListedSession[]): string {
  if (rows.length === 0) return 'no session matches\n';
  let out = pad('SESSION', 20) + pad('PERIOD', 36) + pad('STATUS', 7) + pad('ACCOUNT', 12) + pad('EUMD Wh', 10) + pad('HOLD FLAGS', 28) + 'REVIEW\n';
  for (const r of rows) {
    out += pad(r.sessionId, 20) + pad(`${iso(r.periodFromMs)}..${iso(r.periodToMs)}`, 36) + pad(r.status, 7) + pad(r.accountId || '-', 12) +
      pad(String(r.eumdWh), 10) + pad(r.holdCodes.join(',') || '-', 28) + reviewText(r.review) + '\n';
  }
  return out + `${rows.length} session${rows.length === 1 ? '' : 's'}\n`;
}

function actionLine(a: ReviewAction): string {
  const wh = a.action === 'CORRECT' ? ` to ${a.correctedWh} Wh` : '';
  return `${a.action}${wh} by ${a.operator} at ${new Date(a.createdMs).toISOString()}: ${JSON.stringify(a.reason)} ` +
    `(${a.beforeStatus} ${a.beforeWh} Wh -> ${a.afterStatus} ${a.afterWh} Wh; action ${a.actionId})`;
}

export function showText(v: SessionView): string {
  let out = `session ${v.sessionId}\n`;
  for (const r of v.results) {
    out += `\nperiod ${iso(r.periodFromMs)}..${iso(r.periodToMs)}: ${r.status} (run ${r.runId})\n`;
    out += `  account ${r.accountId || '-'}, premise ${r.premiseId || '-'}, PEV ${r.pevId}, program ${r.programId || '-'}\n`;
    out += `  ${new Date(r.sessionStartMs).toISOString()} to ${new Date(r.sessionEndMs).toISOString()}\n`;
    out += `  EUMD ${r.eumdWh} Wh (in the period ${r.periodWh} Wh), intervals ${r.intervalSumWh} Wh, ${r.seen} seen, ${r.missing} missing; ` +
      `ESCI summary ${r.esciWh ?? '-'} Wh, vehicle ${r.vehicleWh ?? '-'} Wh, granted ${r.grantedWh ?? '-'} Wh\n`;
    for (const f of r.flags) {
      out += `  ${f.severity.padEnd(4)} ${f.code}: observed ${JSON.stringify(f.observed)}, threshold ${JSON.stringify(f.threshold)}${f.detail ? `, ${f.detail}` : ''}\n`;
    }
    if (r.outcome !== null) out += `  review: ${r.outcome.action} ${r.outcome.outcome}: ${r.outcome.note}\n`;
  }
  for (const b of v.records) {
    out += `\nbilling record ${iso(b.periodFromMs)}..${iso(b.periodToMs)}: version ${b.version} ${b.status}, ${b.energyWh} Wh in the period ` +
      `(session ${b.sessionEnergyWh} Wh), ${b.amountMinor} ${b.currency} minor units` +
      `${b.warnCodes.length > 0 ? `, warn ${b.warnCodes.join(' ')}` : ''}; ${b.exportedVersion === 0 ? 'never exported' : `version ${b.exportedVersion} exported`}\n`;
  }
  out += `\nactions (${v.actions.length}):\n`;
  if (v.actions.length === 0) out += '  none\n';
  for (const a of v.actions) {
    const state = a.state === 'applied' ? `${a.outcome}: ${a.note}` : a.state === 'pending' ? 'pending: applied by the next reconcile run' : 'superseded';
    out += `  ${actionLine(a)}\n    ${state}\n`;
  }
  return out;
}

const KINDS: Record<string, ReviewActionKind> = { release: 'RELEASE', hold: 'HOLD', 'accept-estimate': 'ACCEPT_ESTIMATE', correct: 'CORRECT' };

/** One action through the CLI's flags: reason and --wh checked before the store is opened. */
export async function runAction(name: string, sessionId: string, flags: ActFlags, io: ReviewIo, given?: Store): Promise<ReviewAction> {
  const kind = KINDS[name];
  if (kind === undefined) throw new PevmeterError('PEV_INPUT', `unknown review action ${JSON.stringify(name)}`);
  checkReason(kind, flags.reason);
  let wh: number | undefined;
  if (kind === 'CORRECT') {
    if (flags.wh === undefined || !/^\d+$/.test(flags.wh)) {
      throw new PevmeterError('PEV_INPUT', `correct: --wh must be the session's energy as a whole number of Wh, 0 or more${flags.wh === undefined ? '' : `, got ${JSON.stringify(flags.wh)}`}`);
    }
    wh = Number(flags.wh);
  }
  const a = await withStore(flags, given, (s) => act(s, sessionId, kind, { reason: flags.reason, operator: flags.operator, ...(wh === undefined ? {} : { wh }) }));
  io.stdout.write(flags.json === true ? JSON.stringify(a, null, 2) + '\n' : `recorded ${actionLine(a)}\napplied by the next pevmeter reconcile of a period with the session\n`);
  return a;
}

export async function runList(flags: ListFlags, io: ReviewIo, given?: Store): Promise<ListedSession[]> {
  const rows = await withStore(flags, given, (s) => listSessions(s, flags));
  io.stdout.write(flags.json === true ? JSON.stringify(rows, null, 2) + '\n' : listText(rows));
  return rows;
}

export async function runShow(sessionId: string, flags: StoreFlags & { json?: boolean }, io: ReviewIo, given?: Store): Promise<SessionView> {
  const v = await withStore(flags, given, (s) => showSession(s, sessionId));
  io.stdout.write(flags.json === true ? JSON.stringify(v, null, 2) + '\n' : showText(v));
  return v;
}

const OPERATOR_HELP = 'who takes the action (default: the OS user, os.userInfo().username)';

export function registerReviewCommands(program: Command): void {
  const review = program
    .command('review')
    .description('review held sessions: list, show one with its evidence, release, hold, accept an estimate or correct it (applied by the next reconcile)');
  addStoreOptions(
    review
      .command('list')
      .description('sessions held by the latest reconcile run (or --status billed|all), with the review action on each')
      .option('--code <code>', 'only sessions carrying this flag code')
      .option('--account <id>', 'only sessions of this account')
      .option('--cycle <YYYY-MM>', 'only results of this bill cycle (each account over its own cycle period)')
      .option('--from <time>', 'only results of the period starting here (with --to)')
      .option('--to <time>', 'only results of the period ending here (with --from)')
      .option('--status <status>', 'held (default), billed or all')
      .option('--json', 'JSON instead of a table'),
  ).action(async (flags: ListFlags) => {
    await runList(flags, { stdout: process.stdout });
  });
  addStoreOptions(
    review
      .command('show')
      .argument('<session>', 'session ID')
      .description('one session: its reconcile result per period with every flag\'s observed values and threshold, its billing records, its review actions')
      .option('--json', 'JSON instead of text'),
  ).action(async (session: string, flags: StoreFlags & { json?: boolean }) => {
    await runShow(session, flags, { stdout: process.stdout });
  });
  const verbs: [string, string][] = [
    ['release', 'bill the held session as it is'],
    ['hold', 'hold the session (no bill; a billed one is voided)'],
    ['accept-estimate', 'bill a session held only for estimated energy, with its estimate'],
    ['correct', 'bill the session at a corrected energy (--wh)'],
  ];
  for (const [name, what] of verbs) {
    const cmd = review
      .command(name)
      .argument('<session>', 'session ID')
      .description(`${what}; recorded with who, when and why, applied by the next reconcile run`)
      .option('--reason <text>', 'why (required)')
      .option('--operator <name>', OPERATOR_HELP)
      .option('--json', 'print the recorded action as JSON');
    if (name === 'correct') cmd.option('--wh <n>', "the session's energy to bill, whole Wh (required)");
    addStoreOptions(cmd).action(async (session: string, flags: ActFlags) => {
      await runAction(name, session, flags, { stdout: process.stdout });
    });
  }
}
