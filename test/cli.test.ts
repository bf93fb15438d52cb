/**
 * The command line (cli.ts): each stage's commands are registered, each with only its own options.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../schemas/index.js';

const run = promisify(execFile);
const cli = join(packageRoot(), 'cli.ts');

async function help(...args: string[]): Promise<string> {
  const tsArgs = process.execArgv.filter((a) => /@tapjs[/\\]typescript|^--enable-source-maps$/.test(a));
  const { stdout } = await run(process.execPath, [...tsArgs, cli, ...args, '--help'], { timeout: 60_000 });
  return stdout;
}

const flags = (text: string) => [...text.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]).sort();

t.test('every stage registers its commands', async (t) => {
  const top = await help();
  for (const c of ['ingest', 'ingest-files', 'migrate', 'run', 'simulate', 'reconcile', 'statement', 'sql']) t.match(top, new RegExp(`^  ${c} `, 'm'), c);
});

t.test('reconcile offers the store flags and its own, not Kafka\'s', async (t) => {
  const got = flags(await help('reconcile'));
  for (const f of ['--from', '--to', '--cycle', '--tz', '--reprice', '--report', '--export', '--data', '--clickhouse-url', '--database', '--config']) t.ok(got.includes(f), `offers ${f}`);
  for (const f of ['--brokers', '--group', '--registry', '--workers', '--http-port']) t.notOk(got.includes(f), `does not offer ${f}`);
});

t.test('statement offers the store flags and its own, not Kafka\'s', async (t) => {
  const got = flags(await help('statement'));
  for (const f of ['--account', '--cycle', '--from', '--to', '--tz', '--out', '--csv', '--data', '--database']) t.ok(got.includes(f), `offers ${f}`);
  for (const f of ['--brokers', '--group', '--workers']) t.notOk(got.includes(f), `does not offer ${f}`);
});

t.test('ingest offers Kafka, registry and workers beside the store', async (t) => {
  const got = flags(await help('ingest'));
  for (const f of ['--brokers', '--group', '--registry', '--workers', '--http-port', '--data', '--until-idle']) t.ok(got.includes(f), `offers ${f}`);
  t.notOk(got.includes('--from'), 'no reconcile flag');
});

t.test('sql offers the store flags and its own, not Kafka\'s', async (t) => {
  const got = flags(await help('sql'));
  for (const f of ['--format', '--allow-writes', '--data', '--clickhouse-url', '--database', '--config']) t.ok(got.includes(f), `offers ${f}`);
  for (const f of ['--brokers', '--group', '--registry', '--workers', '--http-port']) t.notOk(got.includes(f), `does not offer ${f}`);
});
