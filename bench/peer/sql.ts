/**
 * bench/peer/peer.sql with its placeholders filled in. The values land inside SQL string literals
 * (and one number), so each is checked against a narrow pattern instead of being escaped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../schemas/index.js';

/** The placeholders of peer.sql and what a value may look like (they land inside SQL quotes). */
const PLACEHOLDER_VALUE: Record<string, RegExp> = {
  brokers: /^[A-Za-z0-9.\-_:,[\]]+$/,
  topic: /^[A-Za-z0-9._-]+$/,
  group: /^[A-Za-z0-9._-]+$/,
  registry_url: /^https?:\/\/[A-Za-z0-9.\-_:/[\]]+$/,
  consumers: /^[1-9][0-9]?$/,
};

/** peer.sql with its placeholders filled, as statements. */
export function peerStatements(values: Record<string, string>): string[] {
  const sql = readFileSync(join(packageRoot(), 'bench', 'peer', 'peer.sql'), 'utf8');
  for (const [name, pattern] of Object.entries(PLACEHOLDER_VALUE)) {
    const v = values[name];
    if (v === undefined || !pattern.test(v)) throw new Error(`peer.sql placeholder {${name}}: ${JSON.stringify(v)} does not match ${String(pattern)}`);
  }
  const filled = sql.replace(/\{([a-z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
  return filled
    .split(/;[ \t]*$/m)
    .map((s) => s.trim())
    .filter((s) => s.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--')));
}
