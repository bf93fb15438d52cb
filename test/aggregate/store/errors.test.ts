import t from 'tap';
import { StoreError, clickhouseCode, isRetryable, toStoreError } from '../../../aggregate/store/errors.js';

const withCode = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code });

void t.test('ClickHouse codes are read from both message formats', (t) => {
  t.equal(clickhouseCode(withCode('Code: 60. DB::Exception: Table x.y does not exist. (UNKNOWN_TABLE)')), 60);
  t.equal(clickhouseCode(withCode('Code: 193, e.displayText() = DB::Exception: Wrong password for user u, e.what() = DB::Exception')), 193);
  t.equal(clickhouseCode(withCode('whatever', '252')), 252, 'the client-parsed code wins');
  t.equal(clickhouseCode(withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')), undefined);
  t.end();
});

void t.test('retryable: down, overloaded, timed out; not retryable: refused by the server', (t) => {
  const cases: [string, Error, boolean][] = [
    ['connection refused', withCode('connect ECONNREFUSED 127.0.0.1:18123', 'ECONNREFUSED'), true],
    ['connection reset', withCode('socket hang up', 'ECONNRESET'), true],
    ['errno in the cause', Object.assign(new Error('request failed'), { cause: withCode('x', 'EPIPE') }), true],
    ['client timeout', new Error('Timeout error.'), true],
    ['too many parts', withCode('Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS)'), true],
    ['memory limit', withCode('Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)'), true],
    ['too many queries', withCode('Code: 202, e.displayText() = DB::Exception: Too many simultaneous queries'), true],
    ['proxy 502', new Error('<html><head><title>502 Bad Gateway</title></head></html>'), true],
    ['auth (modern)', withCode('Code: 516. DB::Exception: pevmeter: Authentication failed. (AUTHENTICATION_FAILED)'), false],
    ['auth (18.16)', withCode('Code: 193, e.displayText() = DB::Exception: Wrong password for user pevmeter'), false],
    ['unknown table', withCode('Code: 60. DB::Exception: Table p.x does not exist. (UNKNOWN_TABLE)'), false],
    ['readonly', withCode('Code: 164. DB::Exception: Cannot insert into table in readonly mode. (READONLY)'), false],
    ['syntax', withCode('Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)'), false],
    ['parse', withCode('Code: 27. DB::Exception: Cannot parse input. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)'), false],
    ['local client error', new Error('The client does not support JSON encoding in [TabSeparated] format.'), false],
  ];
  for (const [name, err, retryable] of cases) {
    t.equal(isRetryable(err), retryable, name);
    const mapped = toStoreError(err, 'insert into db.interval_raw');
    t.ok(mapped instanceof StoreError, name);
    t.match(mapped, { code: retryable ? 'PEV_STORE_UNAVAILABLE' : 'PEV_STORE_REJECTED', retryable, message: /^insert into db\.interval_raw failed/ }, name);
  }
  t.end();
});

void t.test('the password is scrubbed from the message and the cause', (t) => {
  const err = withCode('Code: 516. DB::Exception: bad credentials s3cr3t! for url http://u:s3cr3t!@h (AUTHENTICATION_FAILED)');
  const mapped = toStoreError(err, 'insert into db.t', ['s3cr3t!']);
  t.notMatch(mapped.message, /s3cr3t/);
  t.notMatch(String(mapped.cause), /s3cr3t/);
  t.match(mapped.message, /bad credentials \[redacted\] for url http:\/\/u:\[redacted\]@h/);
  const echoed = toStoreError(withCode(`Code: 516. DB::Exception: auth Basic ${Buffer.from('default:s3cr3t!').toString('base64')} key s3cr3t%21 (AUTHENTICATION_FAILED)`), 'select', ['s3cr3t!']);
  t.match(echoed.message, /auth Basic \[redacted\] key \[redacted\] \(AUTHENTICATION_FAILED\)/, 'Basic auth and URL-encoded forms too');
  t.end();
});

void t.test('18.16 refusing query parameters says why', (t) => {
  const err = withCode('Code: 115, e.displayText() = DB::Exception: Unknown setting param_a, e.what() = DB::Exception');
  const mapped = toStoreError(err, 'select on db');
  t.match(mapped, { code: 'PEV_STORE_REJECTED', message: /Unknown setting param_a \(this server predates query parameters/ });
  t.notMatch(mapped.message, /e\.what/);
  t.end();
});

void t.test('a StoreError passes through unchanged', (t) => {
  const e = new StoreError('PEV_STORE_UNAVAILABLE', 'x', true);
  t.equal(toStoreError(e, 'y'), e);
  t.end();
});
