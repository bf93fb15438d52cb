import t from 'tap';
import { parseServerUrl, uniqueName, waitFor } from './services.js';

void t.test('uniqueName is unique and a valid identifier and topic name', (t) => {
  const a = uniqueName('Store-Test');
  const b = uniqueName('Store-Test');
  t.not(a, b);
  for (const n of [a, b]) t.match(n, /^store_test_[a-z0-9_]+$/);
  t.end();
});

void t.test('waitFor returns the first truthy value, or fails naming what it waited for', async (t) => {
  let n = 0;
  t.equal(await waitFor(() => (++n >= 3 ? n : 0), { timeoutMs: 2000, what: 'three polls', intervalMs: 5 }), 3);
  await t.rejects(waitFor(() => false, { timeoutMs: 50, what: 'the impossible', intervalMs: 5 }), {
    message: /^timed out after 50 ms waiting for the impossible$/,
  });
  await t.rejects(
    waitFor(() => Promise.reject(new Error('still down')), { timeoutMs: 30, what: 'the server', intervalMs: 5 }),
    { message: 'timed out after 30 ms waiting for the server; last error: still down' },
  );
});

void t.test('parseServerUrl separates the credentials from the URL', (t) => {
  t.same(parseServerUrl('http://pevmeter:p%40ss@127.0.0.1:18123'), { url: 'http://127.0.0.1:18123', username: 'pevmeter', password: 'p@ss' });
  t.end();
});
