/**
 * The readiness registry behind `/readyz`: each component registers named checks; a check answers
 * `{ ok, detail }` (synchronously or not) and is cut off after its timeout, so `/readyz` never hangs on a
 * stuck store or a slow check. All checks run in parallel; the node is ready when every one is ok.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';

export interface CheckResult {
  ok: boolean;
  /** One line for the operator: what was seen, and why it is not ok. */
  detail: string;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface CheckReport extends CheckResult {
  name: string;
}

export interface ReadinessReport {
  status: 'ready' | 'not ready';
  checks: CheckReport[];
}

/** A check that has not answered within this time counts as failed. */
export const CHECK_TIMEOUT_MS = 2_000;
/** Checks per registry (each component registers a few; more is a programming error). */
export const MAX_CHECKS = 32;

interface Registered {
  run: ReadinessCheck;
  timeoutMs: number;
}

export class Readiness {
  private readonly checks = new Map<string, Registered>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** Adds a check; names are unique and appear in the report in registration order. */
  register(name: string, run: ReadinessCheck, options: { timeoutMs?: number } = {}): void {
    if (this.checks.has(name)) throw new Error(`readiness check '${name}' is registered twice`);
    if (this.checks.size >= MAX_CHECKS) throw new Error(`more than ${MAX_CHECKS} readiness checks`);
    this.checks.set(name, { run, timeoutMs: options.timeoutMs ?? CHECK_TIMEOUT_MS });
  }

  /** Runs every check (in parallel, each bounded by its timeout). */
  async evaluate(): Promise<ReadinessReport> {
    const checks = await Promise.all(
      [...this.checks].map(async ([name, check]) => ({ name, ...(await this.runOne(check)) })),
    );
    return { status: checks.every((c) => c.ok) ? 'ready' : 'not ready', checks };
  }

  private async runOne(check: Registered): Promise<CheckResult> {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timedOut = new Promise<CheckResult>((resolve) => {
      timer = this.clock.setTimeout(
        () => resolve({ ok: false, detail: `no answer within ${check.timeoutMs} ms` }),
        check.timeoutMs,
      );
    });
    try {
      return await Promise.race([Promise.resolve().then(check.run), timedOut]);
    } catch (e) {
      return { ok: false, detail: `check failed: ${errorMessage(e)}` };
    } finally {
      this.clock.clearTimeout(timer);
    }
  }
}

/** The check every program registers once its settings are loaded and valid (it is built from them). */
export function settingsLoaded(readiness: Readiness, what: string): void {
  readiness.register('settings', () => ({ ok: true, detail: `${what} loaded and valid` }));
}

/** Seconds, one decimal, for details. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
