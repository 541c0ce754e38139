/**
 * Deadlines and cancellation end to end with real eps processes, the public proxy and a backend that
 * sleeps 60 s, over the three ways a call reaches another operator: direct gRPC (hd-1 → op-1), a
 * reverse stream (the proxy operator → hd-2 over ServerCall) and a P2P tunnel (hd-1 → hd-2); and to the
 * gateway's own backend (op-1 → op-1, no gRPC hop).
 *
 * With a 1 s gateway deadline the caller gets a deadline error within the deadline plus a small margin;
 * a caller that disconnects has the callee's backend request aborted within a second; afterwards no
 * request is left in any node's broker and none open at the backend.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayRequest } from '../helpers/network.js';
import { PROXY_OPERATOR as P } from '../helpers/p2p-network.js';
import {
  abandonableRequest,
  deadlineNetwork,
  gatewayClient,
  GATEWAY_DEADLINE_S,
  inFlight,
  type DeadlineNetwork,
} from '../helpers/deadline-network.js';
import { waitFor, withDeadline } from '../helpers/wait.js';
import type { JsonObject } from '../../src/core/json.js';

/** How late the gateway's answer may come after its deadline (timer and event-loop delay on a loaded machine). */
const ANSWER_MARGIN_MS = 300;
/** The bound from the caller's disconnect to the backend seeing its request aborted. */
const ABORT_WITHIN_MS = 1000;

interface Route {
  what: string;
  /** The node whose gateway calls, and the callee. */
  caller: string;
  callee: string;
}

const ROUTES: Route[] = [
  { what: 'direct gRPC', caller: 'hd-1', callee: 'op-1' },
  { what: 'ServerCall (reverse stream)', caller: P, callee: 'hd-2' },
  { what: 'P2P tunnel', caller: 'hd-1', callee: 'hd-2' },
  { what: 'the own backend (no gRPC hop)', caller: 'op-1', callee: 'op-1' },
];

const call = (method: string, id: string) => ({ jsonrpc: '2.0', method, params: {}, id });

describe('deadlines and cancellation across hops', () => {
  let n: DeadlineNetwork;

  before(async () => {
    n = await deadlineNetwork();
    // Connections (the dial to op-1, the P2P tunnel to hd-2) are made by the first call on each route and
    // reused; a slow first one may outlast a 1 s deadline but is still made for the next call.
    for (const route of ROUTES) {
      const port = n.net.ports.get(route.caller)!.gateway;
      const as = { as: route.caller, name: route.caller };
      await waitFor(
        async () => (await gatewayRequest(port, call(`${route.callee}.wake`, 'warm'), as)).status === 200,
        { timeoutMs: 20_000, what: `a first call over ${route.what}`, intervalMs: 100 },
      );
    }
  });

  after(async () => {
    await n?.stop();
  });

  /** No node has a request in its broker, and the backend has none open. */
  async function nothingLeftRunning(): Promise<void> {
    await waitFor(
      async () => {
        for (const port of n.metrics.values()) if ((await inFlight(port)) !== 0) return false;
        return n.backend.open() === 0;
      },
      { timeoutMs: 2000, what: 'every broker and the backend to have no request left', intervalMs: 50 },
    );
  }

  for (const route of ROUTES) {
    test(`${route.what}: a 1 s deadline answers a deadline error in time and aborts the backend request`, async (t) => {
      const id = `deadline-${route.callee}-${route.caller}`;
      const gateway = gatewayClient(n.net.ports.get(route.caller)!.gateway, route.caller);
      t.after(() => gateway.close());
      // The connection is open before the timed call, which then measures the gateway alone.
      const warm = await gateway.call(call(`${route.caller}._ping`, `warm-${id}`));
      assert.equal(warm.status, 200, JSON.stringify(warm.json));
      const reply = await withDeadline(gateway.call(call(`${route.callee}.sleep`, id)), {
        timeoutMs: 10_000,
        what: 'the gateway to answer',
      });
      const started = performance.now() - reply.elapsedMs;
      const elapsed = reply.elapsedMs;
      assert.equal(reply.status, 400, JSON.stringify(reply.json));
      const error = reply.json.error as JsonObject;
      assert.equal(error.code, 500);
      assert.match(
        error.message as string,
        /^deadline exceeded: no answer for \S+\.sleep within 1000 ms \(at /,
      );
      assert.equal(typeof (error.data as JsonObject).hop, 'string');
      assert.ok(
        elapsed >= GATEWAY_DEADLINE_S * 1000 - 5,
        `answered after ${elapsed} ms, before the deadline`,
      );
      assert.ok(
        elapsed <= GATEWAY_DEADLINE_S * 1000 + ANSWER_MARGIN_MS,
        `answered after ${Math.round(elapsed)} ms`,
      );
      // The callee's backend got the request, and it was aborted, not left to sleep for 60 s.
      const seen = await n.backend.arrived(`${route.callee}.sleep(${id})`, 0);
      await waitFor(() => seen.abortedAt !== undefined, {
        timeoutMs: ABORT_WITHIN_MS,
        what: "the callee's backend request to be aborted",
      });
      t.diagnostic(
        `answered after ${Math.round(elapsed)} ms; backend aborted ${Math.round(seen.abortedAt! - started)} ms after the call began; ${error.message as string}`,
      );
      await nothingLeftRunning();
    });

    test(`${route.what}: a caller that disconnects has the callee's backend request aborted within a second`, async (t) => {
      const id = `gone-${route.callee}-${route.caller}`;
      const request = abandonableRequest(
        n.net.ports.get(route.caller)!.gateway,
        route.caller,
        call(`${route.callee}.sleep`, id),
      );
      const seen = await n.backend.arrived(`${route.callee}.sleep(${id})`);
      const left = performance.now();
      request.disconnect();
      await waitFor(() => seen.abortedAt !== undefined, {
        timeoutMs: ABORT_WITHIN_MS,
        what: "the callee's backend request to be aborted after the caller left",
      });
      assert.ok(seen.abortedAt! - left < ABORT_WITHIN_MS);
      t.diagnostic(`backend aborted ${Math.round(seen.abortedAt! - left)} ms after the caller left`);
      await withDeadline(request.done, { timeoutMs: 1000, what: 'the abandoned request to end' });
      await nothingLeftRunning();
    });
  }
});
