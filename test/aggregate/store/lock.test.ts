/**
 * An embedded store folder held by another process: the error names the folder, the process that
 * holds it (from the folder's status file) and what to do, with a stable code; through the CLI
 * too. Built code (dist/) holds the folder in a child process, so build first.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { openStore } from '../../../aggregate/store/connect.js';
import { StoreError } from '../../../aggregate/store/errors.js';
import { packageRoot } from '../../../schemas/index.js';

const root = packageRoot();

/** A child process that opens the folder and keeps it until killed; resolves once it holds it. */
function holder(dir: string): Promise<ChildProcess> {
  const code = `const { openStore } = await import(${JSON.stringify(join(root, 'dist', 'aggregate', 'store', 'connect.js'))});
const s = await openStore({ kind: 'embedded', path: ${JSON.stringify(dir)}, database: 'pevmeter' });
await s.select('SELECT 1');
process.stdout.write('holding\\n');
setTimeout(() => {}, 60_000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the holder did not open the folder in 30 s')), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('holding')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (c) => reject(new Error(`the holder exited ${String(c)}`)));
  });
}

void t.test('a folder another process holds: PEV_STORE_LOCKED naming the folder, the process and what to do', async (t) => {
  const dir = join(t.testdirName, 'chdb');
  const child = await holder(dir);
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });

  const err = await openStore({ kind: 'embedded', path: dir, database: 'pevmeter' }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof StoreError, 'a StoreError');
  const e = err as StoreError;
  t.equal(e.code, 'PEV_STORE_LOCKED');
  t.equal(e.retryable, true, 'retryable: it opens once the other process is done');
  t.match(e.message, `the embedded store folder ${dir} is in use by process ${child.pid!} (`, 'names the folder and the process');
  t.match(e.message, /--input-type=module/, 'with its command line');
  t.match(e.message, /wait for that process to finish or stop it, or give this command another folder \(--data DIR\)/, 'says what to do');

  const cli = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), 'migrate', '--data', dir, '--log-level', 'error'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(cli.status, 1, 'the CLI exits 1');
  t.match(cli.stderr, `pevmeter: PEV_STORE_LOCKED: the embedded store folder ${dir} is in use by process ${child.pid!}`, 'one clear line on stderr');

  child.kill('SIGTERM');
  await exited;
  const store = await openStore({ kind: 'embedded', path: dir, database: 'pevmeter' });
  t.same(await store.select<{ x: number }>('SELECT 1 AS x'), [{ x: 1 }], 'the folder opens once the holder is gone');
  await store.close();
});
