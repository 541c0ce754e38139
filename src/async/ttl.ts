/** The time to live of an asynchronous request: what the acknowledgement asks for, within the settings. */

/** Shortest time to live accepted, in seconds (shorter requests could expire before their ack arrives). */
export const MIN_TTL_SECONDS = 0.05;

export class TtlPolicy {
  constructor(
    private readonly defaultSeconds: number,
    private readonly maxSeconds: number,
  ) {}

  /** `asked` (from an acknowledgement) bounded to [MIN_TTL_SECONDS, max]; the default when absent. */
  seconds(asked: number | undefined): number {
    return Math.min(this.maxSeconds, Math.max(MIN_TTL_SECONDS, asked ?? this.defaultSeconds));
  }
}
