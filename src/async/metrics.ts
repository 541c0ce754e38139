/** Gauges and counters of asynchronous calls on the shared Prometheus registry (`metrics.bind_address`). */
import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics/server.js';

/** `pending`: acknowledged requests our application has to answer; `awaited`: answers our backend awaits. */
export const asyncEntries = new Gauge({
  name: 'eps_async_entries',
  help: 'Asynchronous requests in the tables, by table and peer operator',
  labelNames: ['table', 'peer'] as const,
  registers: [registry],
});

/** With a shared (Redis) store: 1 while this instance is the active one of its operator (lease-keeper.ts). */
export const asyncStoreActive = new Gauge({
  name: 'eps_async_store_active',
  help: 'Whether this instance holds the shared store of asynchronous calls (1) or is standby (0)',
  registers: [registry],
});

export const asyncAnswers = new Counter({
  name: 'eps_async_answers_total',
  help: 'Answers to asynchronous requests: sent by our application, received for our backend, refused',
  labelNames: ['direction', 'outcome'] as const,
  registers: [registry],
});

export const asyncExpired = new Counter({
  name: 'eps_async_expired_total',
  help: 'Asynchronous requests whose time to live ended unanswered, by side',
  labelNames: ['side'] as const,
  registers: [registry],
});

/** Notices to our own backend given up after their retries (async/hand-over-retry.ts). */
export const noticesDropped = new Counter({
  name: 'eps_async_notices_dropped_total',
  help: 'Expiries and undelivered notices our backend never took, given up after bounded retries',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/** Store and forward (async/outbox.ts): messages waiting for a peer, and the age of the oldest. */
export const outboxMessages = new Gauge({
  name: 'eps_async_outbox_messages',
  help: 'Requests and answers queued for a peer operator that could not be reached',
  labelNames: ['peer'] as const,
  registers: [registry],
});

export const outboxOldest = new Gauge({
  name: 'eps_async_outbox_oldest_seconds',
  help: 'Age of the oldest message queued for a peer operator',
  labelNames: ['peer'] as const,
  registers: [registry],
});

export const outboxRetries = new Counter({
  name: 'eps_async_outbox_retries_total',
  help: 'Delivery rounds to a peer operator that failed and were scheduled again (with backoff)',
  labelNames: ['peer'] as const,
  registers: [registry],
});

export const outboxDelivered = new Counter({
  name: 'eps_async_outbox_delivered_total',
  help: 'Queued messages that reached their peer operator, by kind and outcome',
  labelNames: ['peer', 'kind', 'outcome'] as const,
  registers: [registry],
});

export const outboxExpired = new Counter({
  name: 'eps_async_outbox_expired_total',
  help: 'Queued messages whose time to live ended undelivered',
  labelNames: ['peer', 'kind'] as const,
  registers: [registry],
});

/** Sets the outbox gauges from `depths` (called by AsyncCalls after each change and each sweep). */
export function setOutboxGauges(depths: { peer: string; messages: number; oldestMs: number }[]): void {
  outboxMessages.reset();
  outboxOldest.reset();
  for (const { peer, messages, oldestMs } of depths) {
    outboxMessages.set({ peer }, messages);
    outboxOldest.set({ peer }, oldestMs / 1000);
  }
}
