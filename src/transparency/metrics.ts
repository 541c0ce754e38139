/** Directory transparency on the shared Prometheus registry (`metrics.bind_address`). */
import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics/server.js';

/** Records in the verified directory chain of this eps (set on every change of the chain). */
export const directoryRecords = new Gauge({
  name: 'eps_directory_records',
  help: 'Records in the verified directory chain of this eps',
  registers: [registry],
});

export const alarmsTotal = new Counter({
  name: 'eps_directory_alarms_total',
  help: 'Directory transparency alarms, by kind (withheld, fork, unverifiable)',
  labelNames: ['kind'] as const,
  registers: [registry],
});
