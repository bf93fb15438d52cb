/**
 * Every benchmark program answers --help with its options (and exits 0), and refuses an option it
 * does not know by name: a new user's first command.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../schemas/index.js';

const PROGRAMS: [string, string[]][] = [
  ['dist/bench/reconcile-bench.js', ['--sessions <n>', '--data <dir>', '--reuse', '--runs <k>']],
  ['dist/bench/peer/main.js', [
    '--records <n>', '--partitions <n>', '--records-per-message <n>', '--seed <text>', '--exact-records <n>', '--fault-share <x>',
    '--no-exactness', '--no-kcat', '--systems <list>', '--consumers <n>', '--workers <n>', '--keep', '--out <file>', '--topic <name>',
    '--topic-records <n>', '--topic-messages <n>',
  ]],
  ['dist/bench/soak/main.js', [
    '--minutes M', '--rate N', '--load SHARE', '--burst-records N', '--partitions P', '--workers W', '--rpm N', '--sample-s S', '--poll-ms MS',
    '--chunk-s S', '--drain-timeout-s S', '--truth-minutes', '--truth-source S', '--max-rss-slope MIB', '--max-p99-slope MS', '--brokers', '--seed',
    '--out DIR', '--keep', '--allow-busy', '--set PATH=VALUE',
  ]],
];

for (const [program, options] of PROGRAMS) {
  void t.test(`${program} --help lists its options`, (t) => {
    const r = spawnSync('node', [join(packageRoot(), program), '--help'], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, 'exit 0');
    t.equal(r.stderr, '', 'nothing on stderr');
    for (const o of options) t.ok(r.stdout.includes(o), `lists ${o}`);
    t.end();
  });
  void t.test(`${program} --bogus is refused by name`, (t) => {
    const r = spawnSync('node', [join(packageRoot(), program), '--bogus'], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 1, 'exit 1');
    t.match(r.stderr, /unknown option '--bogus'/, 'names the option');
    t.end();
  });
}
