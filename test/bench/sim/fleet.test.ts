/**
 * The simulator against its own ground truth, checked from the bytes it emits: every record is
 * decoded with avsc, and each fault kind is recognized in the output by an independent rule, which
 * must pick exactly the sessions the truth says carry that kind (so clean sessions are clean).
 */
import t from 'tap';
import { latestSchema, type EumdInterval, type SessionEnd, type SessionStart, type EnergyAvailable } from '../../../schemas/index.js';
import { readSchemaId } from '../../../ingest/codec/framing.js';
import {
  FAULT_FLAGS, FAULT_KINDS, MALFORMED_CODES, UNKNOWN_SCHEMA_ID, VALIDATION_FAULT_SHARES, Fleet, defaultFaultShares, simulateFleet,
  type FaultKind, type SessionTruth, type SimMessage,
} from '../../../bench/sim/fleet.js';
import { Collector, FUTURE, countedIntervals, decodeFramed, localHourOf, type SessionView } from './decode.js';

const EVERY_KIND = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0.02])) as Record<FaultKind, number>;
const OPTIONS = { premises: 110, seed: 'fleet-test', faults: EVERY_KIND } as const;

interface Run {
  fleet: Fleet;
  truths: SessionTruth[];
  byId: Map<string, SessionTruth>;
  messages: SimMessage[];
  data: Collector;
}

function run(options: ConstructorParameters<typeof Fleet>[0]): Run {
  const fleet = simulateFleet(options);
  const truths: SessionTruth[] = [];
  const messages: SimMessage[] = [];
  const data = new Collector();
  for (const m of fleet.messages((tr) => truths.push(tr))) {
    messages.push(m);
    if (m.malformed) continue;
    for (const d of decodeFramed(m.value, m.bounds)) data.add(d.kind, d.record, d.body);
  }
  return { fleet, truths, byId: new Map(truths.map((tr) => [tr.session_id, tr])), messages, data };
}

const main = run(OPTIONS);
const S = main.fleet.sessionCount;

function body<K extends string, T>(e: { body: unknown }, branch: K): T | undefined {
  return (e.body as Record<string, T | undefined>)[`pevmeter.v1.${branch}`];
}

void t.test('the run: sessions, truth lines and counts agree', (t) => {
  t.ok(S > 550, `${S} sessions`);
  t.equal(main.truths.length, S);
  t.equal(new Set(main.truths.map((x) => x.session_id)).size, S, 'session IDs are unique');
  t.equal(main.data.sessions.size, S, 'every session delivered something');
  // One enrollment per premise, and a renewal where an enrollment_ends session cut the first.
  t.equal(new Set(main.data.enrollments.map((e) => e.premise_id)).size, OPTIONS.premises);
  t.equal(main.data.enrollments.length, OPTIONS.premises + main.fleet.faultCounts.enrollment_ends);
  const c = main.fleet.counts;
  let records = 0;
  for (const m of main.messages) if (!m.malformed) records += m.records;
  t.equal(records, Object.values(c.topics).reduce((a, x) => a + x.records, 0));
  t.equal(main.messages.length, Object.values(c.topics).reduce((a, x) => a + x.messages, 0));
  t.equal(main.messages.reduce((a, m) => a + m.value.length, 0), Object.values(c.topics).reduce((a, x) => a + x.bytes, 0));
  t.equal(c.sessions, S);
  t.equal(c.energyWh, main.truths.reduce((a, x) => a + x.energy_wh, 0));
  t.end();
});

void t.test('every record is byte for byte what avsc writes for it (the hand-written encoders included)', (t) => {
  let checked = 0;
  for (const m of main.messages) {
    if (m.malformed) continue;
    for (const d of decodeFramed(m.value, m.bounds)) {
      if (!latestSchema(d.kind).type.toBuffer(d.record).equals(d.body)) t.fail(`${d.kind} record differs from avsc's encoding`);
      checked++;
    }
  }
  t.ok(checked > 100_000, `${checked} records`);
  t.end();
});

void t.test('messages come in delivery order, keyed by ESCI, interleaved across sessions', (t) => {
  let last = -Infinity;
  let switches = 0;
  let prevSession = -2;
  for (const m of main.messages) {
    if (m.kind === 'enrollment') continue;
    if (m.timestampMs < last) t.fail(`out of order at ${m.timestampMs}`);
    last = m.timestampMs;
    if (m.session !== prevSession) switches++;
    prevSession = m.session;
  }
  t.ok(switches > S * 10, `sessions interleave (${switches} switches)`);
  const esciOf = new Map(main.truths.map((x) => [x.session_id, x.esci_id]));
  for (const m of main.messages.slice(0, 5000)) {
    if (m.malformed || m.kind === 'enrollment') continue;
    const rec = decodeFramed(m.value, m.bounds)[0]!.record as { session_id: string };
    if (esciOf.get(rec.session_id) !== m.key) t.fail(`key ${m.key} is not the session's ESCI`);
  }
  t.end();
});

void t.test('per session, the unique intervals add up to the truth exactly', (t) => {
  let checked = 0;
  let equalToEnergy = 0;
  for (const tr of main.truths) {
    const v = main.data.sessions.get(tr.session_id)!;
    const counted = countedIntervals(v);
    let sum = 0;
    const minutes = new Map<number, number>();
    for (const r of counted.values()) {
      sum += r.energy_wh;
      const m = Math.floor(r.interval_start / 60_000) * 60;
      minutes.set(m, (minutes.get(m) ?? 0) + r.energy_wh);
    }
    if (sum !== tr.interval_sum_wh) t.fail(`${tr.session_id}: intervals ${sum} Wh, truth ${tr.interval_sum_wh} Wh`);
    if (counted.size !== tr.intervals_delivered_unique) t.fail(`${tr.session_id}: ${counted.size} unique intervals, truth ${tr.intervals_delivered_unique}`);
    const expectMinutes = [...minutes.entries()].sort((a, b) => a[0] - b[0]);
    if (JSON.stringify(expectMinutes) !== JSON.stringify(tr.minutes)) t.fail(`${tr.session_id}: per-minute sums differ`);
    const lossy = tr.faults.some((f) => ['gap', 'interrupted', 'future_time', 'negative_interval'].includes(f));
    if (!lossy) {
      if (sum !== tr.energy_wh) t.fail(`${tr.session_id} (${tr.faults.join()}): intervals ${sum} Wh, true energy ${tr.energy_wh} Wh`);
      equalToEnergy++;
    } else if (sum >= tr.energy_wh) {
      t.fail(`${tr.session_id} (${tr.faults.join()}): lost intervals but the sum is not below the true energy`);
    }
    checked++;
  }
  t.equal(checked, S);
  t.ok(equalToEnergy > S * 0.9);
  t.end();
});

void t.test('each fault kind on exactly round(share * sessions) sessions; truth flags as documented', (t) => {
  const want = Math.round(0.02 * S);
  for (const kind of FAULT_KINDS) {
    const n = main.truths.filter((x) => x.faults.includes(kind)).length;
    t.equal(n, want, `${kind}: ${n} sessions`);
    t.equal(main.fleet.faultCounts[kind], want);
  }
  t.equal(main.fleet.gapSizes.small, Math.ceil(want / 2));
  t.equal(main.fleet.gapSizes.large, Math.floor(want / 2));
  for (const tr of main.truths) {
    if (tr.faults.length > 1) t.fail(`${tr.session_id}: more than one kind`);
    const kind = tr.faults[0];
    const expected = kind ? [...FAULT_FLAGS[kind]] : [];
    if (kind === 'gap' && tr.detail?.['quality_gate'] === true) expected.push('QUALITY_GATE');
    if (JSON.stringify(tr.expected_flags) !== JSON.stringify(expected)) t.fail(`${tr.session_id}: flags ${tr.expected_flags.join()} for ${kind}`);
  }
  t.end();
});

/**
 * What each fault looks like in the delivered data, judged without the truth's fault list. Every
 * rule must select exactly the sessions that carry its kind.
 */
void t.test('every fault kind shows in the output, on exactly its sessions; clean sessions are clean', (t) => {
  const I = 60;
  const hourOf = localHourOf('America/Los_Angeles');
  const enrolledPevs = new Set(main.data.enrollments.map((e) => e.pev_id));
  const premiseOfEsci = new Map(main.data.enrollments.map((e) => [e.esci_id, e]));
  const observed = Object.fromEntries(FAULT_KINDS.map((k) => [k, new Set<string>()])) as Record<FaultKind, Set<string>>;
  // Truth lines come in session order: line i is session i.
  const malformedSessions = new Set(main.messages.filter((m) => m.malformed).map((m) => m.session));

  for (const [index, tr] of main.truths.entries()) {
    const id = tr.session_id;
    const v: SessionView = main.data.sessions.get(id)!;
    const mark = (kind: FaultKind, yes: boolean): void => {
      if (yes) observed[kind].add(id);
    };
    const start = v.events.map((e) => body<'SessionStart', SessionStart>(e, 'SessionStart')).find(Boolean);
    const avail = v.events.map((e) => body<'EnergyAvailable', EnergyAvailable>(e, 'EnergyAvailable')).find(Boolean);
    const end = v.events.map((e) => body<'SessionEnd', SessionEnd>(e, 'SessionEnd')).find(Boolean);
    const enrollment = premiseOfEsci.get(tr.esci_id)!;
    const maxWh = (Math.max(avail!.rate_w, enrollment.rated_power_w) * I) / 3600;

    // First copies by seq, in delivery order.
    const firstBySeq = new Map<number, { r: EumdInterval; body: string }>();
    const firstOrder: number[] = [];
    let exactDup = false;
    let conflictDup = false;
    for (const d of v.intervals) {
      const prev = firstBySeq.get(d.record.seq);
      if (prev) {
        if (prev.body === d.body) exactDup = true;
        else conflictDup = true;
      } else {
        firstBySeq.set(d.record.seq, { r: d.record, body: d.body });
        firstOrder.push(d.record.seq);
      }
    }
    const seqs = [...firstBySeq.keys()].sort((a, b) => a - b);
    const maxSeq = seqs[seqs.length - 1]!;
    const bySeq = (k: number): EumdInterval | undefined => firstBySeq.get(k)?.r;
    mark('resend', exactDup);
    mark('conflict', conflictDup);
    mark('out_of_order', firstOrder.some((s, i) => i > 0 && s < firstOrder[i - 1]!));
    let neverDelivered = 0;
    for (let k = 0; k <= maxSeq; k++) if (!firstBySeq.has(k)) neverDelivered++;
    mark('gap', neverDelivered > 0);
    if (neverDelivered > 0) t.equal(neverDelivered / (maxSeq + 1) > 0.1, tr.expected_flags.includes('QUALITY_GATE'), `${id}: gap size and QUALITY_GATE agree`);
    mark('interrupted', end === undefined);
    mark('vehicle_missing', v.reports.length === 0);
    mark('not_enrolled', !enrolledPevs.has(v.intervals[0]!.record.pev_id));
    mark('wrong_premise', v.intervals.some((d) => d.record.premise_id !== enrollment.premise_id) || v.events.some((e) => e.premise_id !== enrollment.premise_id));
    mark('future_time', seqs.some((k) => bySeq(k)!.interval_start >= FUTURE));
    mark('negative_interval', seqs.some((k) => bySeq(k)!.energy_wh < 0));
    mark('spike', seqs.some((k) => bySeq(k)!.energy_wh > maxWh));
    let skew = false;
    let reset = false;
    for (const k of seqs) {
      const r = bySeq(k)!;
      if (r.interval_start >= FUTURE) continue;
      if (r.interval_start + I * 1000 <= start!.plug_in_time) skew = true;
      const p = bySeq(k - 1);
      if (p && p.interval_start < FUTURE && r.interval_start <= p.interval_start) skew = true;
      if (p && r.register_wh < p.register_wh) reset = true;
    }
    mark('clock_skew', skew);
    mark('register_reset', reset);
    // The EUMD's energy: every seq there and valid: their sum; otherwise the register span.
    const valid = countedIntervals(v);
    const complete = valid.size === maxSeq + 1;
    let eumdWh = 0;
    if (complete) for (const r of valid.values()) eumdWh += r.energy_wh;
    else eumdWh = bySeq(maxSeq)!.register_wh - bySeq(0)!.register_wh + bySeq(0)!.energy_wh;
    mark('esci_summary_off', end !== undefined && end.energy_wh !== eumdWh);
    mark('exceeds_grant', eumdWh > avail!.granted_wh * 1.02);
    const lastReport = v.reports[v.reports.length - 1];
    if (lastReport) {
      const rel = Math.abs(lastReport.running_wh - eumdWh) / eumdWh;
      mark('vehicle_off', rel > 0.1);
      if (rel > 0.02 && rel <= 0.1) t.fail(`${id}: vehicle ${(rel * 100).toFixed(2)}% off, between the clean band and the fault band`);
    }
    if (tr.program_id === 'EV-TOU-OFFPEAK') {
      const onPeak = seqs.some((k) => {
        const r = bySeq(k)!;
        if (r.energy_wh <= 0 || r.interval_start >= FUTURE) return false;
        const h0 = hourOf(r.interval_start);
        const h1 = hourOf(r.interval_start + I * 1000 - 1);
        return (h0 >= 16 && h0 < 21) || (h1 >= 16 && h1 < 21);
      });
      mark('off_schedule', onPeak);
    }
    mark('malformed', malformedSessions.has(index));
    mark('auth_failed', start!.binding === 'AUTH_FAILED');
    mark('foreign_meter', v.intervals.some((d) => d.record.eumd_id !== enrollment.eumd_id));
    mark('estimated_intervals', v.intervals.some((d) => (d.record.quality & 1) !== 0));
    mark('dr_violation', avail!.delay_reason === 'DEMAND_RESPONSE' && seqs.some((k) => bySeq(k)!.energy_wh > 0 && bySeq(k)!.interval_start + I * 1000 <= avail!.schedule_start));
    const lastEnd = bySeq(maxSeq)!.interval_start + I * 1000;
    mark('enrollment_ends', main.data.enrollments.some((e) => e.pev_id === tr.pev_id && e.valid_to !== null && e.valid_from <= start!.plug_in_time && start!.plug_in_time < e.valid_to.long && e.valid_to.long < lastEnd));
    // Clean sessions: the end summary matches the intervals in energy and duration.
    if (end && tr.faults.length === 0) {
      t.equal(end.duration_s, Math.round((end.end_time - end.start_time) / 1000));
      const span = (bySeq(maxSeq)!.interval_start + I * 1000 - bySeq(0)!.interval_start) / 1000;
      if (Math.abs(span - end.duration_s) > 2 * I) t.fail(`${id}: summary duration ${end.duration_s} s, intervals span ${span} s`);
      if (bySeq(0)!.interval_start > end.start_time || bySeq(maxSeq)!.interval_start + I * 1000 < end.end_time) t.fail(`${id}: intervals do not cover the charging time`);
    }
  }
  for (const kind of FAULT_KINDS) {
    const truth = new Set(main.truths.filter((x) => x.faults.includes(kind)).map((x) => x.session_id));
    // A dead-lettered interval (future time, negative energy) is delivered, so the delivery-gap
    // rule sees only `gap` sessions; ingest turns those into GAP too (see FAULT_FLAGS).
    const seen = observed[kind];
    const missing = [...truth].filter((id) => !seen.has(id));
    const extra = [...seen].filter((id) => !truth.has(id));
    t.same({ missing, extra }, { missing: [], extra: [] }, `${kind}: ${truth.size} sessions, the output shows exactly those`);
  }
  t.end();
});

void t.test('malformed messages: one of each corruption, counted by code, decodable to the code ingest gives', (t) => {
  const mal = main.messages.filter((m) => m.malformed);
  const byCode = Object.fromEntries(MALFORMED_CODES.map((c) => [c, 0])) as Record<string, number>;
  for (const m of mal) {
    byCode[m.malformed!]!++;
    t.equal(m.records, 1);
    const v = m.value;
    if (m.malformed === 'PEV_NO_MAGIC') t.throws(() => readSchemaId(v, 0, v.length), { code: 'PEV_NO_MAGIC' });
    else if (m.malformed === 'PEV_UNKNOWN_SCHEMA') t.equal(readSchemaId(v, 0, v.length), UNKNOWN_SCHEMA_ID);
    else {
      const id = readSchemaId(v, 0, v.length);
      const kind = m.kind;
      t.equal(id, latestSchema(kind).id);
      t.equal(latestSchema(kind).type.decode(v, 5).offset, -1, 'the body ends early');
    }
  }
  t.same(byCode, main.fleet.counts.malformed.byCode);
  t.equal(mal.length, main.fleet.counts.malformed.messages);
  for (const c of MALFORMED_CODES) t.ok(byCode[c]! > 0, `${c} appears`);
  t.end();
});

void t.test('records per message: the same records and truth, packed by ESCI and topic', (t) => {
  const small = { premises: 25, seed: 'rpm', faults: { resend: 0.1, conflict: 0.1, out_of_order: 0.1, malformed: 0.1 } };
  const one = run(small);
  const packed = run({ ...small, recordsPerMessage: 16 });
  t.same(packed.truths, one.truths);
  const bodies = (r: Run): string[] => {
    const out: string[] = [];
    for (const m of r.messages) {
      if (m.malformed) out.push('x' + m.value.toString('hex'));
      else for (const d of decodeFramed(m.value, m.bounds)) out.push(d.body.toString('hex'));
    }
    return out.sort();
  };
  t.same(bodies(packed), bodies(one));
  t.ok(packed.messages.length < one.messages.length / 4);
  let multi = 0;
  for (const m of packed.messages) {
    if (m.records < 1 || m.records > 16) t.fail(`${m.records} records in a message`);
    if (m.records > 1) multi++;
    if (m.malformed) {
      t.equal(m.records, 1);
      continue;
    }
    const recs = decodeFramed(m.value, m.bounds);
    const seqs = new Set<string>();
    for (const d of recs) {
      if (d.kind !== m.kind) t.fail('one topic per message');
      const r = d.record as { esci_id?: string; session_id: string; seq?: number; pev_id: string };
      if (m.kind !== 'enrollment' && r.esci_id !== m.key) t.fail('one ESCI per message');
      if (r.seq !== undefined) {
        const k = `${r.session_id}/${r.seq}`;
        if (seqs.has(k)) t.fail(`${k}: a copy shares a message with its original`);
        seqs.add(k);
      }
    }
  }
  t.ok(multi > 0);
  t.end();
});

void t.test('default shares (and the validation kinds): every kind in a 10,000-session run, more than 5% of sessions faulted', (t) => {
  // The validation kinds default to 0 (so a seed's default fleet keeps its bytes): turned on here.
  for (const kind of Object.keys(VALIDATION_FAULT_SHARES)) t.equal(defaultFaultShares[kind as FaultKind], 0, `${kind} defaults to 0`);
  const shares = { ...defaultFaultShares, ...VALIDATION_FAULT_SHARES };
  const fleet = new Fleet({ premises: 1750, seed: 'defaults', faults: shares });
  t.ok(fleet.sessionCount >= 10_000, `${fleet.sessionCount} sessions`);
  let faulted = 0;
  for (const kind of FAULT_KINDS) {
    t.equal(fleet.faultCounts[kind], Math.round(shares[kind] * fleet.sessionCount), kind);
    t.ok(fleet.faultCounts[kind] >= 20, `${kind}: ${fleet.faultCounts[kind]}`);
    faulted += fleet.faultCounts[kind];
  }
  t.ok(faulted / fleet.sessionCount > 0.05);
  t.ok(fleet.gapSizes.small > 0 && fleet.gapSizes.large > 0);
  const clean = new Fleet({ premises: 50, noFaults: true });
  t.equal(Object.values(clean.faultCounts).reduce((a, b) => a + b, 0), 0);
  t.end();
});

void t.test('options are validated once, errors name the option', (t) => {
  t.throws(() => new Fleet({ premises: 0 }), { code: 'PEV_CONFIG', message: /premises/ });
  t.throws(() => new Fleet({ intervalS: 45 }), { code: 'PEV_CONFIG', message: /intervalS/ });
  t.throws(() => new Fleet({ from: '2026-10-08T00:00:00Z', to: '2026-10-01T00:00:00Z' }), { code: 'PEV_CONFIG', message: /^to:/ });
  t.throws(() => new Fleet({ from: 'yesterday' }), { code: 'PEV_CONFIG', message: /^from:/ });
  t.throws(() => new Fleet({ faults: { gap: 0.7, spike: 0.5 } }), { code: 'PEV_CONFIG', message: /add up to/ });
  t.throws(() => new Fleet({ faults: { nonsense: 0.1 } as never }), { code: 'PEV_CONFIG', message: /unknown fault kind "nonsense"/ });
  t.throws(() => new Fleet({ colour: 'red' } as never), { code: 'PEV_CONFIG', message: /unknown option "colour"/ });
  t.throws(() => new Fleet({ premises: 3, faults: { off_schedule: 1 } }), { code: 'PEV_CONFIG', message: /faults\.off_schedule/ });
  t.throws(() => new Fleet({ timeZone: 'Nowhere/Town' }), { code: 'PEV_CONFIG', message: /timeZone/ });
  t.throws(() => {
    const f = new Fleet({ premises: 2 });
    f.messages().next();
    f.messages().next();
  }, /streams once/);
  t.end();
});

void t.test('other interval lengths and a DST week keep intervals aligned and sums exact', (t) => {
  for (const intervalS of [15, 900] as const) {
    const r = run({ premises: 12, seed: `len-${intervalS}`, intervalS, from: '2026-10-29T00:00:00Z', to: '2026-11-04T00:00:00Z', faults: {} });
    for (const tr of r.truths) {
      const v = r.data.sessions.get(tr.session_id)!;
      let sum = 0;
      for (const d of v.intervals) {
        if (d.record.interval_start % (intervalS * 1000) !== 0) t.fail(`${tr.session_id}: interval not aligned`);
        if (d.record.interval_s !== intervalS) t.fail('interval length');
        sum += d.record.energy_wh;
      }
      if (sum !== tr.energy_wh || sum !== tr.interval_sum_wh) t.fail(`${tr.session_id}: ${sum} Wh vs ${tr.energy_wh} Wh`);
    }
    t.ok(r.truths.length > 40, `${intervalS} s: ${r.truths.length} sessions`);
  }
  t.end();
});
