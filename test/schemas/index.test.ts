import t from 'tap';
import avro from 'avsc';
import { PassThrough } from 'node:stream';
import { RECORD_KINDS, TOPICS, latestSchema, localSchemas, parseSchema, schemaById, subjectOf } from '../../schemas/index.js';
import { frame, readSchemaId, FRAME_HEADER_BYTES } from '../../ingest/codec/framing.js';
import { EXAMPLES } from './fixtures.js';

t.test('subjects map: one ID per version, every kind has a schema, IDs unique', (t) => {
  const all = localSchemas();
  t.equal(new Set(all.map((s) => s.id)).size, all.length);
  t.same(RECORD_KINDS.map((k) => latestSchema(k).id), [1001, 1002, 1003, 1004]);
  for (const k of RECORD_KINDS) t.equal(subjectOf(k), `${TOPICS[k]}-value`);
  t.equal(schemaById(1001)?.kind, 'interval');
  t.equal(schemaById(4242), undefined);
  t.end();
});

t.test('every schema round-trips its example through Confluent framing', (t) => {
  for (const kind of RECORD_KINDS) {
    const s = latestSchema(kind);
    const value = EXAMPLES[kind];
    t.ok(s.type.isValid(value), `${kind} example is valid`);
    const framed = frame(s.id, s.type.toBuffer(value));
    t.equal(readSchemaId(framed, 0, framed.length), s.id);
    const back: unknown = s.type.fromBuffer(framed.subarray(FRAME_HEADER_BYTES));
    t.same(back, value, `${kind} decodes to the same value`);
  }
  t.end();
});

t.test('every schema round-trips through an Avro object container file', async (t) => {
  for (const kind of RECORD_KINDS) {
    const s = latestSchema(kind);
    const enc = new avro.streams.BlockEncoder(s.type, { codec: 'deflate' });
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (c: Buffer) => parts.push(c));
    enc.pipe(sink);
    enc.write(EXAMPLES[kind]);
    enc.write(EXAMPLES[kind]);
    enc.end();
    await new Promise((r) => sink.on('end', r));
    const file = Buffer.concat(parts);
    t.same([...file.subarray(0, 4)], [0x4f, 0x62, 0x6a, 0x01], `${kind}: container magic`);
    const dec = new avro.streams.BlockDecoder({ parseHook: () => s.type });
    const got: unknown[] = [];
    dec.on('data', (v: unknown) => got.push(v));
    dec.end(file);
    await new Promise((r) => dec.on('end', r));
    t.same(got, [EXAMPLES[kind], EXAMPLES[kind]], `${kind}: two records back`);
  }
});

t.test('evolution: a reader with a newer schema reads data written with the old one', (t) => {
  const v1 = latestSchema('interval');
  const v2json = JSON.parse(v1.text) as { fields: unknown[] };
  v2json.fields.push({ name: 'phase', type: 'int', default: 1, doc: 'added in v2' });
  const v2 = parseSchema(JSON.stringify(v2json));
  const resolver = v2.createResolver(v1.type);
  const old = v1.type.toBuffer(EXAMPLES.interval);
  const read = v2.fromBuffer(old, resolver) as Record<string, unknown>;
  t.equal(read['phase'], 1);
  t.equal(read['energy_wh'], 120);
  t.equal(read['session_id'], 'S-0123456789abcdef');
  // A field without a default cannot be added: the resolver refuses.
  const bad = JSON.parse(v1.text) as { fields: unknown[] };
  bad.fields.push({ name: 'phase', type: 'int' });
  t.throws(() => parseSchema(JSON.stringify(bad)).createResolver(v1.type));
  t.end();
});

t.test('every field added after v1 carries a default (the evolution rule, checked on the files)', (t) => {
  for (const s of localSchemas()) {
    const json = JSON.parse(s.text) as { doc: string };
    t.match(json.doc, /Evolution: BACKWARD/, `${s.subject} states its evolution rule`);
  }
  t.end();
});
