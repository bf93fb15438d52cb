/** The outage proxy: passes bytes both ways, cuts and refuses while blocked, passes again after. */
import { createServer, connect, type Socket } from 'node:net';
import t from 'tap';
import { TcpProxy } from '../../../bench/chaos/proxy.js';

function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      resolve({
        port: typeof a === 'object' && a ? a.port : 0,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            srv.close(() => r());
          }),
      });
    }),
  );
}

/** Sends `text`, resolves with what comes back, or with the error code if the connection fails. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('connect', () => c.write(text));
    c.on('data', (d) => {
      got += d.toString();
      if (got.length >= text.length) {
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    c.on('close', () => resolve(got === '' ? 'closed' : got));
  });
}

void t.test('proxy passes, blocks and passes again', async (t) => {
  const echo = await echoServer();
  t.teardown(() => echo.close());
  const proxy = await TcpProxy.start(echo.port);
  t.teardown(() => proxy.close());
  t.equal(proxy.url, `http://127.0.0.1:${proxy.port}`);
  t.equal(await roundTrip(proxy.port, 'hello'), 'hello');
  proxy.block();
  t.match(await roundTrip(proxy.port, 'hello'), /^(error ECONNRESET|closed)$/, 'refused while blocked');
  proxy.unblock();
  t.equal(await roundTrip(proxy.port, 'again'), 'again');
});
