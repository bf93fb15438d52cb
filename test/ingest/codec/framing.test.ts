import t from 'tap';
import { frame, readSchemaId, FRAME_HEADER_BYTES } from '../../../ingest/codec/framing.js';
import { RecordError } from '../../../schemas/errors.js';

t.test('frame then read gives the schema ID and the body back', (t) => {
  const body = Buffer.from([1, 2, 3]);
  for (const id of [0, 1, 1001, 0x7fffffff, 0xffffffff]) {
    const f = frame(id, body);
    t.equal(f.length, FRAME_HEADER_BYTES + 3);
    t.equal(readSchemaId(f, 0, f.length), id, `id ${id}`);
    t.same([...f.subarray(FRAME_HEADER_BYTES)], [1, 2, 3]);
  }
  t.end();
});

t.test('malformed frames throw RecordError with a stable code', (t) => {
  const cases: [string, Buffer, string][] = [
    ['empty value', Buffer.alloc(0), 'PEV_EMPTY_VALUE'],
    ['no magic byte', Buffer.from([7, 0, 0, 3, 233, 1]), 'PEV_NO_MAGIC'],
    ['header only', Buffer.from([0, 0, 0, 3, 233]), 'PEV_SHORT_FRAME'],
    ['two bytes', Buffer.from([0, 0]), 'PEV_SHORT_FRAME'],
  ];
  for (const [name, buf, code] of cases) {
    t.throws(() => readSchemaId(buf, 0, buf.length), new RecordError(code as never, ''), name);
    t.throws(() => readSchemaId(buf, 0, buf.length), { code, retryable: false }, name);
  }
  t.end();
});
