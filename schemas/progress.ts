/**
 * Progress of a long command, on stderr, as its `--progress` flag asks: a bar on a terminal, JSON
 * lines (one object per step, tagged with `event`) or nothing. `auto` draws the bar on a terminal
 * and writes JSON lines elsewhere, so a log or a pipe still sees the work move.
 */
import { SingleBar } from 'cli-progress';
import { oneOf } from './cli-options.js';

export const PROGRESS_MODES = ['auto', 'bar', 'json', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

export interface ProgressReporter<P> {
  onProgress: (p: P) => void;
  stop: () => void;
}

export interface ProgressSpec<P> {
  /** The `event` field of each JSON line, e.g. `reconcile.progress`. */
  event: string;
  /** The bar's cli-progress format: {bar}, {value}, {total}, {percentage} and the payload's keys. */
  format: string;
  /** Where the bar stands at `p`, and the payload its format names. */
  position: (p: P) => { value: number; total: number; payload?: Record<string, unknown> };
}

/** The commander parser of a `--progress` value: one of PROGRESS_MODES, else a usage error. */
export const parseProgressMode = oneOf('--progress', PROGRESS_MODES);

export function progressReporter<P extends object>(mode: ProgressMode | undefined, stream: ProgressStream, spec: ProgressSpec<P>): ProgressReporter<P> {
  const resolved = mode === undefined || mode === 'auto' ? (stream.isTTY === true ? 'bar' : 'json') : mode;
  if (resolved === 'none') return { onProgress: () => {}, stop: () => {} };
  if (resolved === 'json') {
    return { onProgress: (p) => stream.write(JSON.stringify({ event: spec.event, ...p }) + '\n'), stop: () => {} };
  }
  // Asked for by name off a terminal, the bar is still drawn: a line at each redraw.
  const bar = new SingleBar({ stream, format: spec.format, hideCursor: true, noTTYOutput: true });
  let started = false;
  return {
    onProgress: (p) => {
      const { value, total, payload = {} } = spec.position(p);
      if (started) {
        bar.update(value, payload);
      } else if (total > 0) {
        // Nothing to do draws no bar.
        bar.start(total, value, payload);
        started = true;
      }
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
