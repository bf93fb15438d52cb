/**
 * Credentials a hostile or misconfigured ClickHouse server (or a proxy in front of it) sees and
 * echoes back: a loopback "server" that puts the whole request, Authorization header included,
 * into its error text. Through the commands that talk to the store (migrate, reconcile,
 * ingest-files, sql, ingest) as child processes, no form of the password (raw, URL-encoded, form- or
 * JSON-escaped, base64 inside `Basic base64(user:password)` for the user actually sent) appears in
 * stdout, stderr, the metrics endpoints, a report or an export. And the user of `--clickhouse-url
 * http://user:password@host` is the user sent, or the configuration is refused.
 */
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { openStore, storeOptionsOf } from '../../aggregate/store/connect.js';
import { loadConfig } from '../../schemas/config.js';
import { HttpSchemaResolver } from '../../ingest/registry/http.js';
import { secretsOf } from '../../ingest/service.js';
import { base64Cores, scrubSecrets } from '../../schemas/scrub.js';
import { freePort, runCli } from './helpers.js';

/** Characters that URL, form and JSON encodings all change, so every form differs from the raw one. */
const PASSWORD = 'Zq9 p@ss/wörd"%+&';
const URL_PASSWORD = 'Zq9 url:pw/ß"%';

/** Each form of each password a leak could take, for the users the tests send. */
function forms(): { name: string; form: string }[] {
  const out: { name: string; form: string }[] = [];
  for (const [name, pw] of [['password', PASSWORD], ['URL password', URL_PASSWORD]] as const) {
    out.push({ name, form: pw });
    out.push({ name: `${name} (encodeURIComponent)`, form: encodeURIComponent(pw) });
    out.push({ name: `${name} (form)`, form: encodeURIComponent(pw).replace(/%20/g, '+') });
    out.push({ name: `${name} (JSON)`, form: JSON.stringify(pw).slice(1, -1) });
    for (const user of ['default', 'bob', 'pevmeter']) out.push({ name: `${name} (Basic ${user}:...)`, form: Buffer.from(`${user}:${pw}`).toString('base64') });
    out.push({ name: `${name} (base64)`, form: Buffer.from(pw).toString('base64') });
  }
  return out;
}

function leaks(text: string): string[] {
  return forms().filter((f) => text.includes(f.form)).map((f) => `${f.name}: ...${text.slice(Math.max(0, text.indexOf(f.form) - 40), text.indexOf(f.form) + f.form.length + 10)}...`);
}

void t.test('scrubSecrets: every form, for any user in front of it', (t) => {
  const text = [
    `raw ${PASSWORD}`,
    `uri ${encodeURIComponent(PASSWORD)} form ${encodeURIComponent(PASSWORD).replace(/%20/g, '+')} json ${JSON.stringify(PASSWORD)}`,
    // Base64 of user:password for users of each length modulo 3, with no "Basic" in front.
    ...['a', 'ab', 'abc', 'default'].map((u) => `echo ${Buffer.from(`${u}:${PASSWORD}`).toString('base64')} end`),
    `header Authorization: Basic ${Buffer.from(`x:${PASSWORD}`).toString('base64')}`,
    'url http://someone:whatever@host:8123/',
    'bearer Bearer abc.def-ghi',
  ].join('\n');
  const out = scrubSecrets(text, [PASSWORD]);
  t.same(leaks(out), [], 'no form is left');
  t.equal(out.split('\n')[0], 'raw [redacted]');
  t.equal(out.split('\n')[6], 'header Authorization: Basic [redacted]');
  t.equal(out.split('\n')[7], 'url http://someone:[redacted]@host:8123/', 'any URL password, configured or not');
  t.equal(out.split('\n')[8], 'bearer Bearer [redacted]');
  t.equal(base64Cores('abc').length, 1, 'a 3-byte secret has one core long enough to search for');
  t.equal(scrubSecrets('ab is short', ['ab']), 'ab is short', 'a secret under 3 characters is not searched for');
  t.end();
});

// The echoing server: 500 with ClickHouse's code 516 and the request in the text.
const seen: string[] = [];
const echo = createServer((req: IncomingMessage, res: ServerResponse) => {
  const auth = req.headers.authorization ?? '';
  seen.push(auth);
  const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
  const password = basic.slice(basic.indexOf(':') + 1);
  req.resume();
  res.writeHead(500, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': '516' }).end(
    `Code: 516. DB::Exception: ${basic.split(':')[0] ?? ''}: Authentication failed: request ${req.method ?? ''} ${req.url ?? ''} authorization ${auth} ` +
      `user:password '${basic}' key '${String(req.headers['x-clickhouse-key'] ?? '')}' as sent in a URL ${encodeURIComponent(password)}. (AUTHENTICATION_FAILED)\n`,
  );
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
const port = (echo.address() as { port: number }).port;
t.teardown(() => {
  echo.closeAllConnections();
  echo.close();
});
const basicOf = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

void t.test('an echoing server through migrate, reconcile, ingest-files, sql and ingest: no form of the password anywhere', async (t) => {
  const dir = t.testdir({});
  const urls = [
    ['password in the environment, user default', `http://127.0.0.1:${port}`, { PEVMETER_CLICKHOUSE_PASSWORD: PASSWORD }, 'default', PASSWORD],
    ['password in the URL, user bob', `http://bob:${encodeURIComponent(URL_PASSWORD)}@127.0.0.1:${port}`, {}, 'bob', URL_PASSWORD],
  ] as const;
  for (const [how, url, env, user, pw] of urls) {
    const report = join(dir, `${user}-report.html`);
    const out = join(dir, `${user}-export.csv`);
    const opsPort = await freePort();
    const commands: [string, string[]][] = [
      ['migrate', ['migrate', '--clickhouse-url', url]],
      ['reconcile', ['reconcile', '--clickhouse-url', url, '--from', '2026-01-01T00:00:00Z', '--to', '2026-02-01T00:00:00Z', '--report', report, '--export', 'csv', '--out', out, '--progress', 'none']],
      ['ingest-files', ['ingest-files', '--clickhouse-url', url, join(dir, 'none.avro')]],
      ['sql', ['sql', '--clickhouse-url', url, 'SELECT 1']],
      ['ingest', ['ingest', '--clickhouse-url', url, '--brokers', '127.0.0.1:1', '--http-port', String(opsPort), '--log-level', 'debug', '-c', join(dir, 'fast.json')]],
    ];
    // Migrations are retried only when retryable; 516 is not, so each command fails at once.
    writeFileSync(join(dir, 'fast.json'), JSON.stringify({ pipeline: { retryInitialMs: 10, retryMaxMs: 20, shutdownTimeoutMs: 2_000 } }));
    for (const [name, args] of commands) {
      seen.length = 0;
      const r = await runCli(args, { env: { ...env }, ...(name === 'ingest' ? { metricsPort: opsPort } : {}), timeoutMs: 90_000 });
      t.equal(r.code, 1, `${how}, ${name}: exits 1`);
      t.ok(seen.includes(basicOf(user, pw)), `${how}, ${name}: the server was sent ${user}'s credentials`);
      t.match(r.stderr, /pevmeter: PEV_STORE_REJECTED: .*Authentication failed: request POST .* authorization Basic \[redacted\] user:password '\w+:\[redacted\]'/, `${how}, ${name}: the echo is kept, credentials replaced`);
      const files = [report, out].filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
      t.same(leaks([r.stdout, r.stderr, ...r.scraped, ...files].join('\n')), [], `${how}, ${name}: nothing in ${r.stdout.length + r.stderr.length} bytes of output, ${r.scraped.length} scrapes, ${files.length} files`);
    }
  }
});

void t.test('the user in the URL is the user sent, or the configuration is refused', async (t) => {
  const attempt = async (env: Record<string, string>, flags: Record<string, unknown>): Promise<{ code: unknown; message: string; auth: string[] }> => {
    seen.length = 0;
    try {
      const store = await openStore(storeOptionsOf(loadConfig({ env, flags: { 'store.kind': 'http', ...flags } })));
      const err = await store.migrate().then(() => undefined, (e: unknown) => e as Error & { code: unknown });
      await store.close();
      return { code: err?.code, message: err?.message ?? '', auth: [...seen] };
    } catch (e) {
      return { code: (e as { code?: unknown }).code, message: (e as Error).message, auth: [...seen] };
    }
  };
  const url = `http://bob:${encodeURIComponent(URL_PASSWORD)}@127.0.0.1:${port}`;
  let r = await attempt({}, { 'store.url': url });
  t.same([r.code, [...new Set(r.auth)]], ['PEV_STORE_REJECTED', [basicOf('bob', URL_PASSWORD)]], 'user and password from the URL: bob is sent, not default');
  r = await attempt({ PEVMETER_CLICKHOUSE_PASSWORD: PASSWORD }, { 'store.url': `http://bob@127.0.0.1:${port}` });
  t.same([r.code, [...new Set(r.auth)]], ['PEV_STORE_REJECTED', [basicOf('bob', PASSWORD)]], 'the URL\'s user with the password from the environment');
  r = await attempt({}, { 'store.url': url, 'store.username': 'bob' });
  t.same([r.code, [...new Set(r.auth)]], ['PEV_STORE_REJECTED', [basicOf('bob', URL_PASSWORD)]], 'the same user given twice is fine');
  r = await attempt({}, { 'store.url': url, 'store.username': 'alice' });
  t.same([r.code, r.auth], ['PEV_CONFIG', []], 'the URL names bob, --clickhouse-user alice: refused before any request');
  t.match(r.message, 'store url names user "bob" and store.username (--clickhouse-user, PEVMETER_CLICKHOUSE_USER) names "alice": give the user once');
  r = await attempt({ PEVMETER_CLICKHOUSE_PASSWORD: PASSWORD }, { 'store.url': url });
  t.same([r.code, r.auth], ['PEV_CONFIG', []], 'a password in the URL and another in the environment: refused');
  t.same(leaks(r.message), [], 'the refusal names no password');
  // The registry follows the same rule.
  for (const [o, want] of [
    [{ url: `http://bob:pw1@127.0.0.1:${port}`, username: 'alice' }, 'registry.url names a user and registry.username another: give the user once'],
    [{ url: `http://bob:pw1@127.0.0.1:${port}`, password: 'pw2' }, 'registry.url carries a password and registry.password another: give the password once'],
  ] as const) {
    t.throws(() => new HttpSchemaResolver(o), { code: 'PEV_CONFIG', message: want }, want);
  }
  t.same(secretsOf(loadConfig({ env: { PEVMETER_CLICKHOUSE_URL: url } })).includes(URL_PASSWORD), true, 'the URL password is a secret to scrub');
});
