import t from 'tap';
import { peerStatements } from '../../../bench/peer/sql.js';

const ok = { brokers: '127.0.0.1:19092', topic: 'pev.eumd-interval', group: 'bench-peer', registry_url: 'http://127.0.0.1:8081', consumers: '2' };

void t.test('fills the placeholders of peer.sql', (t) => {
  const s = peerStatements(ok);
  t.equal(s.length, 4, 'database, Kafka queue, summing table, materialized view');
  t.match(s[0], /CREATE DATABASE IF NOT EXISTS peer$/);
  t.match(s[1], /ENGINE = Kafka/);
  t.match(s[1], /kafka_broker_list = '127\.0\.0\.1:19092'/);
  t.match(s[1], /kafka_topic_list = 'pev\.eumd-interval'/);
  t.match(s[1], /kafka_group_name = 'bench-peer'/);
  t.match(s[1], /kafka_format = 'AvroConfluent'/);
  t.match(s[1], /format_avro_schema_registry_url = 'http:\/\/127\.0\.0\.1:8081'/);
  t.match(s[1], /kafka_num_consumers = 2$/);
  t.match(s[2], /ENGINE = SummingMergeTree\s+ORDER BY \(session_id, minute\)$/);
  t.match(s[3], /CREATE MATERIALIZED VIEW IF NOT EXISTS peer\.session_minute_mv TO peer\.session_minute_sum/);
  t.match(s[3], /toStartOfMinute\(interval_start\) AS minute/);
  for (const q of s) t.notMatch(q, /\{(brokers|topic|group|registry_url|consumers)\}/, 'no placeholder left');
  t.end();
});

void t.test('rejects values that would break out of the SQL string', (t) => {
  const cases: [keyof typeof ok, string][] = [
    ['topic', "t', kafka_format='JSONEachRow"],
    ['group', 'a b'],
    ['registry_url', "http://x/'"],
    ['brokers', "h:1'"],
    ['consumers', '0'],
    ['consumers', '1; DROP TABLE x'],
  ];
  for (const [name, value] of cases) {
    t.throws(() => peerStatements({ ...ok, [name]: value }), { message: new RegExp(`placeholder \\{${name}\\}`) }, `${name} = ${value}`);
  }
  const missing: Record<string, string> = { ...ok };
  delete missing['topic'];
  t.throws(() => peerStatements(missing), { message: /placeholder \{topic\}: undefined/ });
  t.end();
});
