/**
 * An application that answers asynchronously (docs/protocol.md#asynchronous-calls), for the dev network
 * (README "Asynchronous calls"). Two small JSON-RPC servers over plain HTTP:
 * - ls-1's backend (instead of eps-ls, on LS_BIND_ADDRESS, default localhost:6666): `lookup {name}` is
 *   acknowledged at once with `{"_async": {"ttl": 3600}}` (ACK_TTL seconds); ANSWER_AFTER seconds later
 *   (default 5) the application answers with `respond` at ls-1's gateway (LS_GATEWAY, default
 *   https://localhost:5557/jsonrpc, with ls-1's dev certificate from CERT_DIR, default settings/dev/certs);
 *   an `undelivered` notice (an answer that never reached the caller) is printed and accepted;
 * - hd-1's backend (on HD_BIND_ADDRESS, default localhost:5558): prints every `respond` (the answer, or an
 *   expiry) and `undelivered` call it receives, and accepts it.
 * Run: `npm run build && node dist/examples/eps-ls-async.js` (or `node --import tsx examples/eps-ls-async.ts`).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { scopeAfter } from '../src/core/cancellation.js';
import { errorMessage } from '../src/core/errors.js';
import { configureLogging, logger } from '../src/core/log.js';
import { JsonRpcClient } from '../src/jsonrpc/client.js';
import { dispatcher, method, MethodError } from '../src/jsonrpc/dispatcher.js';
import { JsonHttpServer } from '../src/jsonrpc/http-server.js';
import { jsonRpcServerSchema } from '../src/settings/tls-schema.js';

const log = logger('eps-ls-async');
/** Answers scheduled and not sent yet (each holds a timer). */
export const MAX_SCHEDULED = 10_000;

function server(bindAddress: string, methods: Parameters<typeof dispatcher>[0]): JsonHttpServer {
  return new JsonHttpServer(
    jsonRpcServerSchema.parse({ bind_address: bindAddress, path: '/jsonrpc' }),
    dispatcher(methods),
  );
}

/** When ls-1's backend answers, and for how long it asks eps to keep a request (read at every `lookup`). */
export interface AnswerTiming {
  answerAfterMs: number;
  ttlSeconds: number;
}

/** A JSON-RPC method that shows what it received (without `_client`/`_caller`) and accepts it. */
function printing(kind: string, show: (line: string) => void) {
  return method(z.looseObject({}), (params, { id }) => {
    const { _client: _c, _caller: _cc, ...shown } = params;
    show(`${kind} for id ${JSON.stringify(id)}: ${JSON.stringify(shown)}`);
    return 'thanks';
  });
}

/**
 * ls-1's backend: acknowledges `lookup`, answers it later through `gateway` with `respond`; shows the
 * `undelivered` notices of answers that never reached their caller.
 */
export function asyncLocations(
  bindAddress: string,
  gateway: JsonRpcClient,
  timing: AnswerTiming,
  show: (line: string) => void = (line) => log.warn(line),
): JsonHttpServer {
  let scheduled = 0;
  // `caller` (the operator that sent the request) tells apart two operators that used the same id.
  const answer = async (requestId: string, name: string, caller: unknown): Promise<void> => {
    const reply = await gateway.call(
      'respond',
      { result: { name, id: `loc-${name.length}` }, ...(typeof caller === 'string' ? { caller } : {}) },
      requestId,
      scopeAfter(30_000),
    );
    log.info('answered', { id: requestId, reply: JSON.stringify(reply.result ?? reply.error) });
  };
  return server(bindAddress, {
    lookup: method(z.looseObject({ name: z.string().min(1) }), ({ name, _client }, { id }) => {
      if (typeof id !== 'string' || scheduled >= MAX_SCHEDULED)
        throw MethodError.foreign(3, 'too many answers scheduled');
      scheduled++;
      setTimeout(() => {
        scheduled--;
        const caller = (_client as { name?: unknown } | undefined)?.name;
        answer(id, name, caller).catch((e: unknown) =>
          log.error('respond failed', { id, error: errorMessage(e) }),
        );
      }, timing.answerAfterMs);
      log.info('acknowledged; answering later', { id, after_s: timing.answerAfterMs / 1000 });
      return { _async: { ttl: timing.ttlSeconds }, note: 'the answer follows with respond' };
    }),
    undelivered: printing('undelivered', show),
  });
}

/** hd-1's backend: prints the answers that come back (or hands them to `show`). */
export function answerPrinter(
  bindAddress: string,
  show: (line: string) => void = (line) => console.log(line),
): JsonHttpServer {
  return server(bindAddress, {
    respond: printing('respond', show),
    undelivered: printing('undelivered', show),
  });
}

const isMain =
  import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('eps-ls-async.js');
if (isMain) {
  configureLogging({ service: 'LS_' });
  const certs = process.env.CERT_DIR ?? 'settings/dev/certs';
  const gateway = new JsonRpcClient(
    {
      endpoint: process.env.LS_GATEWAY ?? 'https://localhost:5557/jsonrpc',
      tls: {
        ca_certificate_files: [join(certs, 'root.crt')],
        certificate_file: join(certs, 'ls-1.crt'),
        key_file: join(certs, 'ls-1.key'),
      },
      timeout: 30,
    },
    { serverName: 'ls-1' },
  );
  const servers = [
    asyncLocations(process.env.LS_BIND_ADDRESS ?? 'localhost:6666', gateway, {
      answerAfterMs: Number(process.env.ANSWER_AFTER ?? 5) * 1000,
      ttlSeconds: Number(process.env.ACK_TTL ?? 3600),
    }),
    answerPrinter(process.env.HD_BIND_ADDRESS ?? 'localhost:5558'),
  ];
  for (const s of servers) {
    const addr = await s.listen();
    log.info(`listening on ${addr.address}:${addr.port}/jsonrpc`);
  }
  const stop = (): void => {
    void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
