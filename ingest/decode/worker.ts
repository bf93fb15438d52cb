/**
 * Piscina worker entry. Imports nothing from the pool (ingest/decode/pool.ts): a worker is the
 * decode function plus the transfer of its result buffers back to the main thread, no more.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { decodeBatch } from './batch.js';
import { resultTransferList } from './task.js';
import type { BatchResult, DecodeTask } from './task.js';

/**
 * Runs one batch. The result's TSV, dead-letter and index buffers are transferred, not copied:
 * the main thread receives them as its own and this thread never touches them again. (Piscina
 * unwraps the movable: the pool's caller sees the plain BatchResult.)
 */
export default function decode(task: DecodeTask): BatchResult {
  const result = decodeBatch(task);
  const movable = { [transferableSymbol]: resultTransferList(result), [valueSymbol]: result };
  return move(movable) as unknown as BatchResult;
}
