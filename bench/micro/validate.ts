/**
 * Validation of a decoded EumdInterval (ingest/decode/validate.ts), once per record in the workers.
 *
 *   current  validateInterval: IDs checked by a character-class table walk (idOk), numbers by
 *            plain comparisons, no allocation on the good path
 *   regex    the same checks with one anchored RegExp per ID format (the first version)
 */
import { validateInterval } from '../../ingest/decode/validate.js';
import { latestSchema, type EumdInterval } from '../../schemas/index.js';
import { isMain, printResult, runCases, sampleMessages, writeMicro, type MicroResult } from './runner.js';

const VIN = /^[A-HJ-NPR-Z0-9]{17}$/;
const PREMISE = /^P[0-9]{9}$/;
const ESCI = /^ESCI-[0-9A-F]{8}$/;
const EUMD = /^EUMD-[0-9A-F]{8}$/;
const SESSION = /^S-[0-9a-f]{16}$/;

/** The regex version: same verdicts on good records; failures throw a plain Error here. */
function validateIntervalRegex(r: EumdInterval, notAfterMs: number): void {
  if (!SESSION.test(r.session_id) || !ESCI.test(r.esci_id) || !EUMD.test(r.eumd_id) || !PREMISE.test(r.premise_id) || !VIN.test(r.pev_id)) {
    throw new Error('bad id');
  }
  if (!Number.isInteger(r.seq) || r.seq < 0 || r.seq > 10_000_000) throw new Error('seq');
  const s = r.interval_s;
  if (s !== 15 && s !== 30 && s !== 60 && s !== 300 && s !== 900) throw new Error('interval_s');
  const t = r.interval_start;
  if (!(t >= 946_684_800_000) || !Number.isInteger(t) || t > notAfterMs || t % 1000 !== 0) throw new Error('time');
  const e = r.energy_wh;
  if (e < 0 || !Number.isSafeInteger(e) || e * 3600 > 350_000 * s) throw new Error('energy');
  if (!(r.register_wh >= 0) || !Number.isSafeInteger(r.register_wh)) throw new Error('register');
  if (!Number.isInteger(r.quality) || r.quality < 0 || r.quality > 0xffff) throw new Error('quality');
}

export function run(): MicroResult {
  const type = latestSchema('interval').type;
  const records = sampleMessages(10_000).map((m) => type.fromBuffer(m.value.subarray(5)) as EumdInterval);
  const n = records.length;
  const notAfter = Date.now() + 300_000;
  return runCases('validate', 'interval record', n, [
    {
      name: 'validateInterval (char-class table)',
      current: true,
      fn: () => {
        for (let i = 0; i < n; i++) validateInterval(records[i]!, notAfter);
        return n;
      },
    },
    {
      name: 'regex per ID format',
      note: 'the first version; replaced by the table walk',
      fn: () => {
        for (let i = 0; i < n; i++) validateIntervalRegex(records[i]!, notAfter);
        return n;
      },
    },
  ]);
}

if (isMain(import.meta.url)) {
  const r = run();
  printResult(r);
  writeMicro('micro-validate.json', r);
}
