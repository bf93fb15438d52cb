/**
 * Unit sizing of the Kafka loop: a unit is bounded in records as well as messages, so a topic of
 * 64-record messages does not make units 64 times larger than one of single records.
 */
import t from 'tap';
import { FIRST_UNIT_MESSAGES, unitMessages } from '../../../ingest/pipeline/kafka-loop.js';

void t.test('the first unit probes with a small batch', (t) => {
  t.equal(FIRST_UNIT_MESSAGES, 1_024);
  t.equal(unitMessages(20_000, 100_000, 0), 1_024);
  t.equal(unitMessages(500, 100_000, 0), 500, 'never above kafka.consumeBatch');
  t.end();
});

void t.test('later units follow the records per message of the last one', (t) => {
  t.equal(unitMessages(20_000, 100_000, 1), 20_000, 'one record per message: kafka.consumeBatch bounds');
  t.equal(unitMessages(20_000, 100_000, 16), 6_250);
  t.equal(unitMessages(20_000, 100_000, 64), 1_562);
  t.equal(unitMessages(20_000, 100_000, 1.5), 20_000);
  t.equal(unitMessages(20_000, 30_000, 1.5), 20_000);
  t.equal(unitMessages(20_000, 24_000, 1.5), 16_000);
  t.equal(unitMessages(20_000, 100, 65_535), 1, 'at least one message, however large');
  t.end();
});
