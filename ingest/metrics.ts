/**
 * Prometheus metrics (prom-client) and the operations endpoints: /metrics, /healthz (the process
 * is alive) and /readyz (503 until the pipeline runs, and again while it drains). Bound to
 * loopback by default; these three endpoints carry no data and need no token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly recordsIn = new Counter({ name: 'pevmeter_records_in_total', help: 'Records received, by source topic (a multi-record message counts each record).', labelNames: ['topic'], registers: [this.registry] });
  readonly messagesIn = new Counter({ name: 'pevmeter_messages_in_total', help: 'Kafka messages (or container blocks) received, by source topic.', labelNames: ['topic'], registers: [this.registry] });
  readonly rowsWritten = new Counter({ name: 'pevmeter_rows_written_total', help: 'Rows durably written to ClickHouse, by table.', labelNames: ['table'], registers: [this.registry] });
  readonly deadLetters = new Counter({ name: 'pevmeter_dead_letters_total', help: 'Records sent to the dead-letter path, by error code.', labelNames: ['code'], registers: [this.registry] });
  readonly storeRetries = new Counter({ name: 'pevmeter_store_retries_total', help: 'Store writes retried after a retryable failure.', registers: [this.registry] });
  readonly registryRetries = new Counter({ name: 'pevmeter_registry_retries_total', help: 'Schema resolutions retried because the registry was unavailable.', registers: [this.registry] });
  readonly commits = new Counter({ name: 'pevmeter_offset_commits_total', help: 'Offset commits after durable writes (asynchronous ones when sent).', registers: [this.registry] });
  readonly commitFailures = new Counter({ name: 'pevmeter_offset_commit_failures_total', help: 'Offset commits the broker did not take (a later commit, or the flush before a drained exit, covers them).', registers: [this.registry] });
  readonly decodeSeconds = new Histogram({ name: 'pevmeter_decode_batch_seconds', help: 'Time to decode and validate one partition batch in the worker pool.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry] });
  readonly insertSeconds = new Histogram({ name: 'pevmeter_insert_seconds', help: 'Time of one ClickHouse insert, by table.', labelNames: ['table'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly unitSeconds = new Histogram({ name: 'pevmeter_unit_seconds', help: 'Time from consume to commit of one unit of work.', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  readonly consumerLag = new Gauge({ name: 'pevmeter_consumer_lag', help: 'Messages between the committed offset and the high watermark, by topic and partition (from librdkafka statistics).', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly inflightUnits = new Gauge({ name: 'pevmeter_inflight_units', help: 'Units of work consumed but not yet committed.', registers: [this.registry] });
  readonly paused = new Gauge({ name: 'pevmeter_paused', help: '1 while consumption is paused (backpressure, store or registry outage).', registers: [this.registry] });
  readonly rdkafka = new Gauge({ name: 'pevmeter_rdkafka_stat', help: 'Selected librdkafka statistics (replyq, msg_cnt, msg_size, rx, tx, rxmsgs).', labelNames: ['client', 'stat'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'pevmeter_', eventLoopMonitoringPrecision: 10 });
  }

  /** Folds a librdkafka statistics JSON (statistics.interval.ms) into gauges. */
  recordRdkafkaStats(client: string, json: string): void {
    let s: Record<string, unknown>;
    try {
      s = JSON.parse(json) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const stat of ['replyq', 'msg_cnt', 'msg_size', 'tx', 'rx', 'rxmsgs', 'txmsgs']) {
      const v = s[stat];
      if (typeof v === 'number') this.rdkafka.set({ client, stat }, v);
    }
    const topics = s['topics'];
    if (typeof topics !== 'object' || topics === null) return;
    for (const [topic, t] of Object.entries(topics as Record<string, { partitions?: Record<string, { consumer_lag?: number }> }>)) {
      for (const [partition, p] of Object.entries(t.partitions ?? {})) {
        if (partition === '-1' || typeof p.consumer_lag !== 'number' || p.consumer_lag < 0) continue;
        this.consumerLag.set({ topic, partition }, p.consumer_lag);
      }
    }
  }
}

export interface OpsServer {
  readonly port: number;
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

export async function startOpsServer(metrics: Metrics, host: string, port: number): Promise<OpsServer> {
  let ready = false;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    setReady(r: boolean) {
      ready = r;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
