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
