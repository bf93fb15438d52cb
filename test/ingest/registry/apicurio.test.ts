/**
 * The HTTP schema resolver against a real registry: Apicurio Registry 2.0.2.Final (its
 * Confluent-compatible API), built from Maven Central and started by test/services/registry.sh on
 * its own port, then stopped. PEV_REGISTRY_URL points the test at a registry already running
 * instead (its schemas are then registered there too).
 * Takes about 30 s once built; the first build downloads the registry (2-4 minutes).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeBatch } from '../../../ingest/decode/batch.js';
import { HttpSchemaResolver, registerLocalSchemas } from '../../../ingest/registry/index.js';
import { RegistryError } from '../../../schemas/errors.js';
import { localSchemas, packageRoot, parseSchema, TOPICS } from '../../../schemas/index.js';
import { INTERVAL, INTERVAL_TSV, body, framedTask, originTsv, rawFrame, text } from '../decode/fixtures.js';

const run = promisify(execFile);
const script = join(packageRoot(), 'test', 'services', 'registry.sh');
const port = process.env['PEV_REGISTRY_TEST_PORT'] ?? '18281';
const env = { ...process.env, REGISTRY_PORT: port };

void t.test('Apicurio Registry: register, resolve, decode, then an outage', async (t) => {
  let url = process.env['PEV_REGISTRY_URL'];
  const own = !url;
  if (own) {
    await run('bash', [script, 'start'], { env, timeout: 480_000 });
    url = (await run('bash', [script, 'url'], { env })).stdout.trim();
    t.teardown(() => run('bash', [script, 'stop'], { env }));
  }
  const registryUrl = url!;

  const ids = await registerLocalSchemas(registryUrl, { retries: 2, backoffMs: 200 });
  t.same(ids.map((i) => i.subject), localSchemas().map((s) => s.subject));
  t.equal(new Set(ids.map((i) => i.registryId)).size, 4, 'four distinct IDs assigned by the registry');
  const again = await registerLocalSchemas(registryUrl);
  t.same(again.map((i) => i.registryId), ids.map((i) => i.registryId), 'registering again answers the same IDs');

  const resolver = new HttpSchemaResolver({ url: registryUrl, retries: 1, backoffMs: 50, timeoutMs: 3000 });
  t.teardown(() => resolver.close());
  const missing = 987_654;
  const got = await resolver.resolve([...ids.map((i) => i.registryId), missing]);
  for (const [i, s] of localSchemas().entries()) {
    const resolved = got.get(ids[i]!.registryId);
    t.ok(resolved, `${s.subject} resolved`);
    t.ok(parseSchema(resolved!.text).equals(s.type), `${s.subject}: the registry's text is the same schema`);
  }
  t.equal(got.get(missing), null, '404 with error_code 40403 reads as "does not exist"');

  // Records framed with the registry's ID decode with the registry's schema text.
  const intervalId = ids[0]!.registryId;
  const task = framedTask('interval', [{ value: rawFrame(intervalId, body('interval', INTERVAL)) }, { value: rawFrame(missing, body('interval', INTERVAL)) }], {
    schemas: [{ id: intervalId, text: got.get(intervalId)!.text }],
  });
  const r = decodeBatch(task);
  t.equal(text(r.tables[0]!.tsv), INTERVAL_TSV + originTsv(TOPICS.interval, 3, 100));
  t.same(r.dead.code, ['PEV_UNKNOWN_SCHEMA']);

  if (!own) return;
  // Outage: cached IDs still resolve without the registry; a new ID is a retryable RegistryError.
  await run('bash', [script, 'stop'], { env });
  const cached = await resolver.resolve([intervalId]);
  t.equal(cached.get(intervalId)?.id, intervalId, 'cached schema survives the outage');
  const err = await resolver.resolve([ids[1]!.registryId + 1000]).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof RegistryError);
  t.match(err, { code: 'PEV_REGISTRY_UNAVAILABLE', retryable: true, message: /ECONNREFUSED/ });
});
