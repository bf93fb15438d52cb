/**
 * The machine a run measured: cores, CPU model, memory, OS, Node, librdkafka, the Kafka broker
 * (from the jar names the test broker runs from) and kcat. ClickHouse versions come from the
 * children that talk to it (SELECT version()).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import { packageRoot } from '../../schemas/index.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  os: string;
  node: string;
  librdkafka: string;
  kafka: string;
  clickhouseEmbedded: string;
  clickhouseServer?: string;
  kcat?: string;
  /** Load average at the start (1, 5, 15 min): other work on the machine skews the figures. */
  loadAverage: number[];
}

/** Kafka version from .cache/kafka/lib (kafka_2.13-4.1.1.jar, kafka-clients-4.1.1.jar). */
export function kafkaVersion(): string {
  const lib = join(packageRoot(), '.cache', 'kafka', 'lib');
  if (!existsSync(lib)) return 'unknown (no .cache/kafka/lib)';
  for (const f of readdirSync(lib)) {
    const m = /^kafka_(\d+\.\d+)-(\d+\.\d+\.\d+)\.jar$/.exec(f);
    if (m) return `${m[2]} (Scala ${m[1]})`;
  }
  for (const f of readdirSync(lib)) {
    const m = /^kafka-clients-(\d+\.\d+\.\d+)\.jar$/.exec(f);
    if (m) return m[1]!;
  }
  return 'unknown';
}

export function kcatVersion(): string | undefined {
  try {
    const out = execFileSync('kcat', ['-V'], { encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /Version ([\w.-]+).*?(librdkafka [\w.-]+)/.exec(out);
    return m ? `${m[1]} (${m[2]})` : out.split('\n')[0]?.trim();
  } catch {
    return undefined;
  }
}

export function describeMachine(): MachineInfo {
  const list = cpus();
  const info: MachineInfo = {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
    os: `${osType()} ${release()}`,
    node: process.version,
    librdkafka: Kafka.librdkafkaVersion,
    kafka: kafkaVersion(),
    clickhouseEmbedded: '',
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const kcat = kcatVersion();
  if (kcat !== undefined) info.kcat = kcat;
  return info;
}
