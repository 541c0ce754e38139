/**
 * The last submissions an sd received (submitRecords), for its status page [docs/status.md]: when, with
 * what outcome, how many records for which operators, and the error of a refused one. At most
 * MAX_SUBMISSIONS, newest first.
 */
import { systemClock, type Clock } from '../core/clock.js';

export const MAX_SUBMISSIONS = 20;
/** Operator names listed per submission at most. */
const MAX_NAMES = 10;
const MAX_ERROR_CHARS = 300;

export interface SubmissionRecord {
  at: string;
  outcome: 'ok' | 'rejected' | 'invalid';
  records: number;
  operators: string[];
  tip?: string;
  error?: string;
}

export class SubmissionLog {
  private items: SubmissionRecord[] = [];

  constructor(private readonly clock: Clock = systemClock) {}

  add(
    outcome: SubmissionRecord['outcome'],
    records: readonly { record: { name: string } }[],
    detail: { tip?: string; error?: string },
  ): void {
    const operators = [...new Set(records.map((r) => r.record.name))].slice(0, MAX_NAMES);
    const item: SubmissionRecord = {
      at: new Date(this.clock.now()).toISOString(),
      outcome,
      records: records.length,
      operators,
    };
    if (detail.tip !== undefined) item.tip = detail.tip;
    if (detail.error !== undefined) item.error = detail.error.slice(0, MAX_ERROR_CHARS);
    this.items.unshift(item);
    if (this.items.length > MAX_SUBMISSIONS) this.items.length = MAX_SUBMISSIONS;
  }

  list(): SubmissionRecord[] {
    return [...this.items];
  }
}
