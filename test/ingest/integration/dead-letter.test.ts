/**
 * Issue 3, dead letters: every malformed kind the simulator makes (truncated body, no magic byte,
 * unknown schema ID) and the records that fail validation (negative energy, a timestamp in 2099)
 * land in the dead-letter topic, each with the right `pev-error-code` and origin headers that point
 * at the very message it came from, with that message's bytes unchanged; the good records are all
 * stored; and good + dead-lettered = produced, record for record.
 */
import t from 'tap';
import { toInt } from '../../../aggregate/store/values.js';
import { feedFleet, offsetTable, readTopic } from '../../../bench/chaos/kafka.js';
import { MALFORMED_CODES } from '../../../bench/sim/fleet.js';
import { checkOffsets, checkTruth } from '../../../bench/sim/truth.js';
import { integrationRun, logTail } from './harness.js';

void t.test('malformed and invalid records go to the dead-letter topic with code and origin; good + dead = produced', async (t) => {
  const run = await integrationRun(t, 'it_dlq');
  // No resends here: an exact copy may be collapsed by the store, and this test counts rows one by one.
  const feed = await feedFleet({
    brokers: run.brokers,
    topics: run.topics,
    fleet: { seed: 'dead-letter-1', premises: 25, faults: { malformed: 0.3, negative_interval: 0.05, future_time: 0.05 } },
  });
  const byCode = Object.fromEntries(MALFORMED_CODES.map((c) => [c, feed.malformed.filter((m) => m.code === c).length]));
  t.ok(MALFORMED_CODES.every((c) => (byCode[c] ?? 0) >= 5), `malformed messages by kind: ${JSON.stringify(byCode)}`);
  const negative = feed.truths.filter((s) => s.faults.includes('negative_interval')).length;
  const future = feed.truths.filter((s) => s.faults.includes('future_time')).length;
  t.ok(negative > 0 && future > 0, `${negative} sessions with a negative interval, ${future} with one in 2099`);
  t.equal(feed.copies.size, 0, 'no exact copies in this feed');

  const child = run.start({ untilIdleMs: 4_000 });
  const exit = await child.wait(150_000);
  t.equal(exit.code, 0, `ingest exit code\n${logTail(run)}`);

  const letters = await readTopic(run.brokers, run.topics.dlq, run.partitions);
  const key = (topic: string, partition: number | string, offset: number | string) => `${topic}[${partition}]@${offset}`;
  const byOrigin = new Map<string, (typeof letters)[number][]>();
  for (const l of letters) {
    const k = key(l.headers['pev-origin-topic'] ?? '?', l.headers['pev-origin-partition'] ?? '?', l.headers['pev-origin-offset'] ?? '?');
    byOrigin.set(k, [...(byOrigin.get(k) ?? []), l]);
  }
  t.equal(letters.length, feed.malformed.length + negative + future, 'one dead letter per bad record, no more');

  let matched = 0;
  const wrong: string[] = [];
  for (const m of feed.malformed) {
    const found = byOrigin.get(key(m.topic, m.partition, m.offset)) ?? [];
    const l = found[0];
    if (found.length !== 1 || !l) wrong.push(`${key(m.topic, m.partition, m.offset)}: ${found.length} letters`);
    else if (l.headers['pev-error-code'] !== m.code) wrong.push(`${key(m.topic, m.partition, m.offset)}: code ${l.headers['pev-error-code']} for ${m.code}`);
    else if (!l.value || !l.value.equals(m.value)) wrong.push(`${key(m.topic, m.partition, m.offset)}: value changed`);
    else if (l.headers['pev-record-index'] !== '0' || !l.headers['pev-error-message']) wrong.push(`${key(m.topic, m.partition, m.offset)}: headers ${JSON.stringify(l.headers)}`);
    else matched++;
  }
  t.same(wrong, [], 'every malformed message has exactly its dead letter');
  t.equal(matched, feed.malformed.length);

  const validation = letters.filter((l) => !feed.malformed.some((m) => key(m.topic, m.partition, m.offset) === key(l.headers['pev-origin-topic'] ?? '', l.headers['pev-origin-partition'] ?? '', l.headers['pev-origin-offset'] ?? '')));
  const codes: Record<string, number> = {};
  for (const l of validation) codes[l.headers['pev-error-code'] ?? '?'] = (codes[l.headers['pev-error-code'] ?? '?'] ?? 0) + 1;
  t.same(codes, { PEV_NEGATIVE_ENERGY: negative, PEV_FUTURE_TIME: future }, 'validation failures by code');
  t.ok(validation.every((l) => l.headers['pev-origin-topic'] === run.topics.interval), 'they are intervals');

  const store = await run.openStore();
  const [rows] = await store.select<Record<string, unknown>>(
    'SELECT (SELECT count() FROM {db}.interval_raw) + (SELECT count() FROM {db}.session_event_raw) + (SELECT count() FROM {db}.vehicle_report_raw) + (SELECT count() FROM {db}.enrollment) AS good, ' +
      '(SELECT uniqExact(src_topic, src_partition, src_offset) FROM {db}.dead_letter) AS dead',
  );
  const good = toInt(rows?.['good']);
  const dead = toInt(rows?.['dead']);
  t.equal(dead, letters.length, 'the dead_letter table holds the same letters as the topic');
  t.equal(good + letters.length, feed.records, `good ${good} + dead-lettered ${letters.length} = produced ${feed.records}`);

  const check = await checkTruth(store, feed.truths);
  t.equal(check.status, 'pass', check.examples.join('\n'));
  const offsets = await offsetTable(run.brokers, run.group, run.sourcePartitions);
  const oc = await checkOffsets(store, offsets, { requireDrained: true });
  t.equal(oc.status, 'pass', 'every offset committed and backed by a row or a dead letter');
});
