/**
 * A process's own CPU and memory, sampled on a timer from inside it. process.cpuUsage() is
 * getrusage(RUSAGE_SELF): every thread of the process (decode workers, librdkafka, chDB) counts.
 */
import type { ProcessSample } from './types.js';

export interface Sampler {
  stop(): ProcessSample[];
}

export function sample(): ProcessSample {
  const cpu = process.cpuUsage();
  return { t: Date.now(), userUs: cpu.user, systemUs: cpu.system, rssBytes: process.memoryUsage.rss() };
}

export function startSampler(everyMs: number): Sampler {
  const samples: ProcessSample[] = [sample()];
  const timer = setInterval(() => samples.push(sample()), everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      samples.push(sample());
      return samples;
    },
  };
}

/** CPU seconds used up to time `t`, interpolated between the samples around it. */
export function cpuSecondsAt(samples: readonly ProcessSample[], t: number): number {
  const cpu = (s: ProcessSample) => (s.userUs + s.systemUs) / 1e6;
  if (samples.length === 0) return 0;
  const first = samples[0]!;
  if (t <= first.t) return cpu(first);
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (b.t >= t) {
      const a = samples[i - 1]!;
      const span = b.t - a.t;
      return span <= 0 ? cpu(b) : cpu(a) + ((cpu(b) - cpu(a)) * (t - a.t)) / span;
    }
  }
  return cpu(samples[samples.length - 1]!);
}

/** Largest sampled RSS within [from, to]. */
export function maxRssBetween(samples: readonly ProcessSample[], from: number, to: number): number {
  let max = 0;
  for (const s of samples) if (s.t >= from && s.t <= to && s.rssBytes > max) max = s.rssBytes;
  return max;
}
