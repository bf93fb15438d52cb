/**
 * `pevmeter ingest-files` around the file ingest: a progress bar by bytes on a terminal (stderr),
 * nothing otherwise, so a log or a pipe gets only the summary. `run` draws the same bar.
 */
import { stat } from 'node:fs/promises';
import { Presets, SingleBar } from 'cli-progress';
import type { ProgressStream } from '../schemas/progress.js';
import { ingestFiles, type FileIngestSummary } from './pipeline/files.js';
import type { PipelineParts } from './service.js';

/** A bar of `total` bytes on `stream` when it is a terminal; undefined otherwise. */
export function byteProgressBar(stream: ProgressStream, total: number, label: string): SingleBar | undefined {
  if (stream.isTTY !== true) return undefined;
  const bar = new SingleBar(
    { stream, format: `${label} [{bar}] {percentage}% | {value}/{total} bytes | {records} records | {eta_formatted} left`, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  bar.start(total, 0, { records: 0 });
  return bar;
}

/** `progress`: where a bar may go (drawn only on a terminal); undefined for none. */
export async function ingestFilesWithProgress(files: readonly string[], parts: PipelineParts, progress: ProgressStream | undefined, label = 'ingest'): Promise<FileIngestSummary> {
  // A file that cannot be stat'ed counts 0 here; ingestFiles reports it by name.
  const sizes = await Promise.all(files.map((f) => stat(f).then((s) => s.size, () => 0)));
  const total = sizes.reduce((a, b) => a + b, 0);
  const bar = progress === undefined ? undefined : byteProgressBar(progress, total, label);
  try {
    const summary = await ingestFiles(files, { ...parts, onProgress: (d) => bar?.update(Math.min(d.bytes, total), { records: d.records }) });
    bar?.update(total, { records: summary.records });
    return summary;
  } finally {
    bar?.stop();
  }
}
