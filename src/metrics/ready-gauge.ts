/**
 * /readyz as metrics, so that an alert can name a node that is not ready and the failing check:
 * `readiness_ready` (1 when /readyz would answer 200) and `readiness_check_ok{check}` (1 per passing check),
 * evaluated at scrape time by the same Readiness (each check bounded by its timeout); both gauges of one
 * scrape share one evaluation. Check names come from the code (settings, listeners, directory, ...).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Readiness, ReadinessReport } from './readiness.js';

/** The readiness each registry reports (the last metrics server built on it wins). */
const reported = new WeakMap<Registry, Readiness>();

export function exportReadiness(registry: Registry, readiness: Readiness): void {
  const first = !reported.has(registry);
  reported.set(registry, readiness);
  if (!first) return;
  let running: Promise<ReadinessReport | undefined> | undefined;
  const evaluate = (): Promise<ReadinessReport | undefined> => {
    running ??= Promise.resolve(reported.get(registry)?.evaluate()).finally(() => (running = undefined));
    return running;
  };
  new Gauge({
    name: 'readiness_ready',
    help: '1 when the node is ready (/readyz answers 200), 0 when not',
    registers: [registry],
    async collect() {
      const report = await evaluate();
      if (report) this.set(report.status === 'ready' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'readiness_check_ok',
    help: 'Readiness checks behind /readyz: 1 when the check passes, 0 when it fails',
    labelNames: ['check'] as const,
    registers: [registry],
    async collect() {
      const report = await evaluate();
      if (!report) return;
      this.reset();
      for (const c of report.checks) this.set({ check: c.name }, c.ok ? 1 : 0);
    },
  });
}
