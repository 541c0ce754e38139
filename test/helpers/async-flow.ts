/** Steps of asynchronous-call tests against real eps processes: call, respond, status, wait for `respond`. */
import assert from 'node:assert/strict';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import type { AsyncBackend } from './async-backend.js';
import { gatewayRequest, type HttpReply } from './network.js';
import { waitFor } from './wait.js';

/** The waits of these tests: a few hops on 127.0.0.1, on a busy shared machine. */
export const STEP_MS = 15_000;

export function rpc(method: string, params: JsonObject, id: JsonValue): JsonObject {
  return { jsonrpc: '2.0', method, params, id };
}

/** `operator`'s application calls through its own gateway. */
export function gateway(port: number, operator: string, body: JsonObject): Promise<HttpReply> {
  return gatewayRequest(port, body, { as: operator, name: operator });
}

/** Calls `method` and checks that the callee acknowledged it; returns the acknowledgement. */
export async function callAcknowledged(
  port: number,
  operator: string,
  method: string,
  id: JsonValue,
): Promise<JsonObject> {
  const r = await gateway(port, operator, rpc(method, { person: 'p-1' }, id));
  assert.equal(r.status, 200, r.text);
  const result = r.json.result as JsonObject;
  assert.ok(result?._async, `not acknowledged: ${r.text}`);
  return result;
}

/** The callee's application answers request `requestId` (as its backend received it). */
export function respond(
  port: number,
  operator: string,
  requestId: string,
  answer: JsonObject,
): Promise<HttpReply> {
  return gateway(port, operator, rpc('respond', answer, requestId));
}

/** `_status` of one request at `operator`'s gateway. */
export async function status(port: number, operator: string, requestId: string): Promise<JsonObject> {
  const r = await gateway(port, operator, rpc('_status', { id: requestId }, 1));
  assert.equal(r.status, 200, r.text);
  return r.json.result as JsonObject;
}

/** Waits until the backend has received `respond` for its application's id `id`; returns those calls. */
export async function respondsFor(backend: AsyncBackend, id: JsonValue, count = 1): Promise<JsonObject[]> {
  const matching = (): JsonObject[] => backend.calls('respond').filter((m) => m.id === id);
  await waitFor(() => matching().length >= count, {
    timeoutMs: STEP_MS,
    what: `respond for id ${JSON.stringify(id)}`,
  });
  return matching();
}

/** The data.code of an error reply. */
export function errorCode(reply: HttpReply): string | undefined {
  const error = reply.json.error as JsonObject | undefined;
  return (error?.data as JsonObject | undefined)?.code as string | undefined;
}
