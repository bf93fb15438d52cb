/**
 * The unit processor's schema resolution with the real worker pool: IDs a message starts with are
 * resolved before decoding; an ID that only a later record of a multi-record message names is
 * found from the workers' report and the unit decoded again; an ID the source does not know is
 * asked again on the next unit (the resolver decides how long "not found" holds), never remembered
 * for good here.
 */
import t from 'tap';
import type { Test } from 'tap';
import type { Message } from 'node-rdkafka';
import { loadConfig } from '../../../schemas/config.js';
import { createDecodePool } from '../../../ingest/decode/pool.js';
import { createLogger } from '../../../ingest/log.js';
import { Metrics } from '../../../ingest/metrics.js';
import { KafkaUnitProcessor } from '../../../ingest/pipeline/processor.js';
import type { DurableSink, TableBuffers } from '../../../ingest/pipeline/sink.js';
import type { DeadLetter } from '../../../ingest/kafka/dead-letter.js';
import type { ResolvedSchema, SchemaResolver } from '../../../ingest/registry/types.js';
import { latestSchema } from '../../../schemas/index.js';
import { INTERVAL, INTERVAL_TSV, framed } from '../decode/fixtures.js';

/** The interval schema under a second ID, as a registry would hold a re-registered copy. */
const SECOND_ID = 2001;

class CountingResolver implements SchemaResolver {
  readonly asked: number[][] = [];
  constructor(readonly known: Map<number, ResolvedSchema>) {}
  resolve(ids: readonly number[]): Promise<Map<number, ResolvedSchema | null>> {
    this.asked.push([...ids].sort((a, b) => a - b));
    return Promise.resolve(new Map(ids.map((id) => [id, this.known.get(id) ?? null])));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Written {
  tsv: string;
  rows: number;
  letters: DeadLetter[];
}

function setUp(t: Test, known: number[]) {
  const cfg = loadConfig({ env: {}, flags: { 'pipeline.workers': 1 } });
  const interval = latestSchema('interval');
  const resolver = new CountingResolver(new Map(known.map((id) => [id, { id, text: interval.text }])));
  const pool = createDecodePool({ threads: 1 });
  t.teardown(() => pool.close());
  const written: Written[] = [];
  // The sink is ours and tested with the real store elsewhere; here only what reaches it matters.
  const sink = {
    write: (buffers: TableBuffers, letters: readonly DeadLetter[]) => {
      const chunks = buffers.chunks.get('interval_raw') ?? [];
      written.push({ tsv: Buffer.concat(chunks).toString('utf8'), rows: buffers.rowCount('interval_raw'), letters: [...letters] });
      return Promise.resolve();
    },
  } as unknown as DurableSink;
  const processor = new KafkaUnitProcessor(cfg, pool, resolver, sink, new Metrics(), createLogger('silent'));
  const topic = cfg.kafka.topics.interval;
  const unit = (offset: number, value: Buffer, records: number) => [{
    topic, partition: 0, epoch: 1,
    messages: [{ topic, partition: 0, offset, value, key: null, size: value.length, timestamp: 0, headers: [{ 'pev-records': Buffer.from(String(records)) }] } as Message],
  }];
  return { resolver, processor, written, unit, firstId: interval.id };
}

void t.test('a later record with an ID no message starts with is resolved and decoded, not dead-lettered', async (t) => {
  const { resolver, processor, written, unit, firstId } = setUp(t, [latestSchema('interval').id, SECOND_ID]);
  const value = Buffer.concat([framed('interval', INTERVAL, firstId), framed('interval', { ...INTERVAL, seq: 8, energy_wh: 95 }, SECOND_ID)]);
  const out = await processor.process(unit(40, value, 2), new AbortController().signal);
  t.same(out, { records: 2, deadLetters: 0 });
  t.same(resolver.asked, [[firstId], [SECOND_ID]], 'the first ID before decoding, the later one from the workers\' report');
  t.equal(written.length, 1);
  t.equal(written[0]!.rows, 2);
  const lines = written[0]!.tsv.trimEnd().split('\n');
  t.equal(lines.length, 2);
  t.ok(lines[0]!.startsWith(INTERVAL_TSV), 'first record');
  t.ok(lines[1]!.startsWith(INTERVAL_TSV.replace('\t7\t', '\t8\t').replace('\t120\t', '\t95\t')), 'second record, decoded with the schema of ID 2001');
  t.same(written[0]!.letters, []);

  // Both IDs are cached now: the next unit asks nothing.
  await processor.process(unit(41, value, 2), new AbortController().signal);
  t.equal(resolver.asked.length, 2);
});

void t.test('an ID the source does not know dead-letters its record and is asked about again on the next unit', async (t) => {
  const { resolver, processor, written, unit, firstId } = setUp(t, [latestSchema('interval').id]);
  const value = Buffer.concat([framed('interval', INTERVAL, firstId), framed('interval', { ...INTERVAL, seq: 8 }, SECOND_ID)]);
  const out = await processor.process(unit(50, value, 2), new AbortController().signal);
  t.same(out, { records: 2, deadLetters: 1 });
  t.equal(written[0]!.rows, 1, 'the good first record is kept');
  const letter = written[0]!.letters[0]!;
  t.same({ code: letter.code, offset: letter.originOffset, index: letter.recordIndex }, { code: 'PEV_UNKNOWN_SCHEMA', offset: 50, index: 1 });
  t.same(resolver.asked, [[firstId], [SECOND_ID]]);
  await processor.process(unit(51, value, 2), new AbortController().signal);
  t.same(resolver.asked, [[firstId], [SECOND_ID], [SECOND_ID]], 'not found is not remembered by the processor');
});
