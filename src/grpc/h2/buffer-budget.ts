/**
 * Received message data that the application has not consumed yet, counted against nested budgets: one
 * per connection, all under one per process (PROCESS_BUFFER_BUDGET). A stream's own bound is its
 * flow-control window (credit returns only as the application consumes); these bounds keep many streams
 * and many connections from adding up to more than the process can hold.
 */
import { MAX_PROCESS_BUFFERED_BYTES } from './limits.js';

export class BufferBudget {
  private usedBytes = 0;
  private peakBytes = 0;

  /** `name` says whose budget it is in the refusal ("this connection", "this process"). */
  constructor(
    readonly max: number,
    readonly name: string,
    private readonly parent?: BufferBudget,
  ) {}

  get used(): number {
    return this.usedBytes;
  }

  /** The most ever held at once (tests and metrics: the bound held). */
  get peak(): number {
    return this.peakBytes;
  }

  /**
   * Takes `bytes` from this budget and every enclosing one, or nothing: then returns the budget that
   * would have been exceeded (the innermost), else undefined.
   */
  charge(bytes: number): BufferBudget | undefined {
    if (this.usedBytes + bytes > this.max) return this;
    const refused = this.parent?.charge(bytes);
    if (refused) return refused;
    this.usedBytes += bytes;
    if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
    return undefined;
  }

  /** Gives back `bytes` charged earlier (consumed, or their stream ended). */
  refund(bytes: number): void {
    if (bytes <= 0) return;
    this.usedBytes -= bytes;
    this.parent?.refund(bytes);
  }
}

/** What every connection of this process charges, whatever its role, unless given another parent. */
export const PROCESS_BUFFER_BUDGET = new BufferBudget(MAX_PROCESS_BUFFERED_BYTES, 'this process');
