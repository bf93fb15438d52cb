/**
 * Entry of the harness's child processes (see protocol.ts): waits for one job, runs it, sends the
 * result and exits. Job modules are imported on demand, so a Kafka read limit does not load chDB.
 */
import type { ChildJob, FromChild, ToChild } from './protocol.js';

function send(msg: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

let onStop: () => void = () => undefined;
let busy = false;

async function run(job: ChildJob): Promise<unknown> {
  switch (job.kind) {
    case 'pipeline': {
      const { runPipelineJob } = await import('./child-pipeline.js');
      return runPipelineJob(
        job,
        (name, data) => void send({ type: 'event', name, data }),
        (fn) => (onStop = fn),
      );
    }
    case 'read-limit': {
      const { runReadLimit } = await import('./child-limits.js');
      return runReadLimit(job);
    }
    case 'stage-limits': {
      const { runStageLimits } = await import('./child-limits.js');
      return runStageLimits(job);
    }
  }
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'stop') {
    onStop();
    return;
  }
  if (busy) return;
  busy = true;
  run(msg.job)
    .then((result) => send({ type: 'result', result }))
    .catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) }))
    .finally(() => {
      // Native handles (librdkafka, chDB) may keep the loop alive after a job: the job is done.
      process.disconnect?.();
      setTimeout(() => process.exit(0), 100).unref();
    });
});

// Without a harness on the other end there is nothing to do.
process.on('disconnect', () => {
  if (!busy) process.exit(0);
});
