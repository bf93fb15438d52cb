/**
 * The facts the use case's validation rules need beyond energy and time (issue 19): the EUMD
 * the intervals name, their quality bits, the seqs of dead-lettered intervals, and the enrollment
 * valid at the session's end. FACTS_SQL (facts.ts) selects them as its last four columns; this
 * file reads them and turns them into SessionFacts fields, so they are read in one place.
 *
 * Dead-lettered intervals. Ingest stores a dead letter with its session ID whenever the record
 * decoded (a value the validation refused: negative energy, a time in the future...); a record
 * that did not decode has no session and cannot be attributed. The payload is the record as
 * received: Confluent-framed from Kafka (magic 0, 4-byte schema ID, body), decoded with the
 * schema it names, or a bare Avro body from a container file, decoded with each interval schema
 * version, newest first, until one reads the payload exactly. The record must name the dead
 * letter's own session, or it is not counted.
 */
import type avro from 'avsc';
import { localSchemas, schemaById } from '../schemas/index.js';
import type { TsvCursor } from './tsv-read.js';
import { sessionEndMs, type EnrollmentFact, type IntervalFact, type SessionFacts } from './types.js';

export interface ValidationColumns {
  eumds: string[];
  qualitySeqs: number[];
  qualityBits: number[];
  deadPayloads: string[];
}

/** The last four columns of a FACTS_SQL row, in SELECT order. */
export function readValidationFacts(r: TsvCursor): ValidationColumns {
  return { eumds: r.strs(), qualitySeqs: r.ints(), qualityBits: r.ints(), deadPayloads: r.strs() };
}

/**
 * Sets the quality bits on the intervals (in place) and returns the validation fields. A seq whose
 * copies carry different bits has conflicting contents (DUPLICATE_CONFLICT holds it); its bits are
 * the union, so an estimate is never hidden by a copy that says otherwise.
 */
export function applyValidationFacts(
  v: ValidationColumns,
  intervals: IntervalFact[],
  enrollmentAt: (endMs: number) => EnrollmentFact | null,
  sessionId: string,
  end: SessionFacts['end'],
  lastEventMs: number,
): Pick<SessionFacts, 'eumdIds' | 'deadIntervalSeqs' | 'enrollmentAtEnd'> {
  if (v.qualitySeqs.length > 0) {
    const bySeq = new Map<number, number>();
    v.qualitySeqs.forEach((seq, k) => bySeq.set(seq, (bySeq.get(seq) ?? 0) | v.qualityBits[k]!));
    for (const x of intervals) x.quality = bySeq.get(x.seq) ?? 0;
  }
  const seqs = new Set<number>();
  for (const p of v.deadPayloads) {
    const seq = deadIntervalSeq(p, sessionId);
    if (seq !== null) seqs.add(seq);
  }
  return {
    eumdIds: v.eumds.filter((e) => e !== ''),
    deadIntervalSeqs: [...seqs].sort((a, b) => a - b),
    enrollmentAtEnd: enrollmentAt(sessionEndMs({ intervals, end, lastEventMs })),
  };
}

/** The seq of a dead-lettered interval payload (base64) of `sessionId`; null when it cannot be read. */
export function deadIntervalSeq(payloadBase64: string, sessionId: string): number | null {
  const buf = Buffer.from(payloadBase64, 'base64');
  const named = buf.length > 5 && buf[0] === 0 ? schemaById(buf.readInt32BE(1)) : undefined;
  if (named !== undefined) return named.kind === 'interval' ? seqOf(named.type, buf, 5, sessionId) : null;
  for (const t of intervalTypes()) {
    const seq = seqOf(t, buf, 0, sessionId);
    if (seq !== null) return seq;
  }
  return null;
}

function seqOf(type: avro.Type, buf: Buffer, at: number, sessionId: string): number | null {
  try {
    const decoded: { value: { session_id?: unknown; seq?: unknown } | undefined; offset: number } = type.decode(buf, at);
    const { value, offset } = decoded;
    if (offset !== buf.length || value?.session_id !== sessionId || typeof value.seq !== 'number' || value.seq < 0) return null;
    return value.seq;
  } catch {
    return null;
  }
}

let intervalTypesCache: avro.Type[] | undefined;

function intervalTypes(): avro.Type[] {
  return (intervalTypesCache ??= localSchemas()
    .filter((s) => s.kind === 'interval')
    .sort((a, b) => b.version - a.version)
    .map((s) => s.type));
}
