/**
 * A backend for asynchronous-call tests: records every JSON-RPC request eps delivers, acknowledges
 * `locate` (with `_async`, and the time to live it is told; after `ackDelayMs`), and accepts `respond` (or refuses it while
 * `refuseRespond` is set; holds it while `respondGate` is pending).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsonObject } from '../../src/core/json.js';

export interface AsyncBackend {
  port: number;
  url: string;
  /** Every request delivered to it, in order. */
  seen: JsonObject[];
  /** Requests delivered with this method. */
  calls(method: string): JsonObject[];
  /** The time to live the next acknowledgements ask for (seconds; none = eps's default). */
  ackTtl: number | undefined;
  refuseRespond: boolean;
  /** Milliseconds `locate` takes before it is acknowledged (0: at once). */
  ackDelayMs: number;
  /** While set, `respond` is answered only once it settles (a backend still busy with the answer). */
  respondGate: Promise<void> | undefined;
  /** Requests whose reply went out on a live connection (the eps that sent them could read it). */
  answered: JsonObject[];
  close(): Promise<void>;
}

export async function asyncBackend(): Promise<AsyncBackend> {
  const seen: JsonObject[] = [];
  const backend: AsyncBackend = {
    port: 0,
    url: '',
    seen,
    calls: (method) => seen.filter((m) => m.method === method),
    ackTtl: undefined,
    refuseRespond: false,
    ackDelayMs: 0,
    respondGate: undefined,
    answered: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as JsonObject;
      seen.push(msg);
      const reply = (o: object): void => {
        // The eps died waiting: nobody reads this reply.
        if (res.destroyed || !res.socket || res.socket.destroyed) return;
        backend.answered.push(msg);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, ...o }));
      };
      if (msg.method === 'locate') {
        const ack = backend.ackTtl === undefined ? true : { ttl: backend.ackTtl };
        // `for`: whose request this acknowledges (a repeat answered from memory shows whose memory it was).
        const caller = ((msg.params as JsonObject | undefined)?._client as JsonObject | undefined)?.name;
        const answer = (): void => reply({ result: { _async: ack, queued: true, for: caller ?? null } });
        if (backend.ackDelayMs > 0) setTimeout(answer, backend.ackDelayMs);
        else answer();
      } else if (msg.method === 'respond') {
        const answer = (): void => {
          if (backend.refuseRespond) reply({ error: { code: 7, message: 'not now' } });
          else reply({ result: 'thanks' });
        };
        if (backend.respondGate) void backend.respondGate.then(answer);
        else answer();
      } else reply({ result: 'sync' });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as AddressInfo).port;
  backend.url = `http://127.0.0.1:${backend.port}/jsonrpc`;
  return backend;
}
