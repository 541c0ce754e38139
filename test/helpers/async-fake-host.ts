/** A broker stand-in for unit tests of asynchronous calls: records what is sent and handed to the backend. */
import type { AsyncSettings } from '../../src/async/async-calls.js';
import type { AsyncHost, Delivery } from '../../src/async/host.js';
import type { EpsRequest, EpsResponse } from '../../src/core/messages.js';

export class FakeHost implements AsyncHost {
  readonly ownName: string;
  sent: EpsRequest[] = [];
  toOwnBackend: EpsRequest[] = [];
  /** `_respond` is confirmed (otherwise no answer at all). */
  confirm = true;
  /** Every send fails as if the peer could not be reached. */
  unreachable = false;
  /** The answer of the peer to a request other than `_respond` (default: an acknowledgement). */
  answer: (request: EpsRequest) => EpsResponse = (r) => ({ id: r.id, result: { _async: true } });
  /** The caller's answer to `_respond` when set (instead of the confirmation). */
  answerReply: ((request: EpsRequest) => EpsResponse | null) | undefined;
  /** Our backend's answer to what it is handed (default: it takes it). */
  backend: (request: EpsRequest) => Promise<EpsResponse | null> = async (r) => ({
    id: r.id,
    result: { _: 'thanks' },
  });

  constructor(name: string) {
    this.ownName = name;
  }

  async send(request: EpsRequest): Promise<Delivery> {
    this.sent.push(request);
    if (this.unreachable)
      return { response: { id: request.id, error: { code: 500, message: 'down' } }, unreachable: true };
    if (!request.method.endsWith('._respond')) return { response: this.answer(request), unreachable: false };
    if (this.answerReply) return { response: this.answerReply(request), unreachable: false };
    const response = this.confirm ? { id: request.id, result: { accepted: true } } : null;
    return { response, unreachable: false };
  }

  async toBackend(request: EpsRequest): Promise<EpsResponse | null> {
    this.toOwnBackend.push(request);
    return this.backend(request);
  }
}

/** Settings of unit tests: a file store in `dir`, small bounds, an outbox retrying after 1 s, 2 s, 4 s, 8 s. */
export function settings(dir: string, patch: Partial<AsyncSettings> = {}): AsyncSettings {
  return {
    store: { type: 'file', settings: { directory: dir } },
    default_ttl: 60,
    max_ttl: 3600,
    max_entries: 100,
    max_bytes: 1 << 20,
    max_entries_per_peer: 50,
    max_bytes_per_peer: 1 << 20,
    delivery_timeout: 5,
    outbox: { ttl: 600, method_ttl: {}, retry_initial: 1, retry_max: 8, concurrency: 4 },
    ...patch,
  };
}
