import t from 'tap';
import { readFileSync } from 'node:fs';
import { OPERATIONAL_ERROR_CODES, RECORD_ERROR_CODES, RecordError, isRecordErrorCode } from '../../schemas/errors.js';
import { StoreError } from '../../aggregate/store/errors.js';

t.test('every error code is documented in docs/errors.md', (t) => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const code of [...RECORD_ERROR_CODES, ...OPERATIONAL_ERROR_CODES]) t.match(doc, `| \`${code}\` |`, code);
  t.end();
});

t.test('codes are unique and prefixed; record errors are never retryable', (t) => {
  const all = [...RECORD_ERROR_CODES, ...OPERATIONAL_ERROR_CODES];
  t.equal(new Set(all).size, all.length);
  for (const c of all) t.match(c, /^PEV_[A-Z_]+$/);
  const e = new RecordError('PEV_NO_MAGIC', 'x');
  t.equal(e.retryable, false);
  t.equal(e.code, 'PEV_NO_MAGIC');
  t.equal(new StoreError('PEV_STORE_UNAVAILABLE', 'down', true).retryable, true);
  t.equal(isRecordErrorCode('PEV_TRUNCATED'), true);
  t.equal(isRecordErrorCode('PEV_CONFIG'), false);
  t.end();
});
