/**
 * A loopback TCP proxy between the ingest and the ClickHouse server. The outage itself is real
 * (the server process is stopped); the proxy only lets the runner look at the restarted server
 * before the ingest can reach it again, so "what was durable when the server went away" can be
 * compared with what the consumer group committed meanwhile, with no new write blurring it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private blocked = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private listening = 0;

  private constructor(
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, targetHost);
    proxy.listening = await new Promise<number>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => {
        const a = proxy.server.address();
        if (a && typeof a === 'object') resolve(a.port);
        else reject(new Error('proxy: no port'));
      });
    });
    return proxy;
  }

  private accept(client: Socket): void {
    if (this.blocked) {
      // Reset at once: the client sees what it sees when the server is down.
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  get port(): number {
    return this.listening;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listening}`;
  }

  /** Cuts every open connection and resets new ones until `unblock`. */
  block(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
