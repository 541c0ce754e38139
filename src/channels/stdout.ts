/**
 * `stdout` channel: prints requests for the local operator and returns no response
 * [docs/protocol.md#backends].
 */
import type { Address } from '../core/address.js';
import type { EpsRequest } from '../core/messages.js';
import type { Channel } from '../broker/channel.js';

export class StdoutChannel implements Channel {
  readonly type = 'stdout' as const;

  constructor(
    private readonly ownName: string,
    private readonly write: (text: string) => void = (t) => process.stdout.write(t),
  ) {}

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  canDeliverTo(address: Address): boolean {
    return address.operator === this.ownName;
  }

  async deliver(request: EpsRequest): Promise<null> {
    this.write(
      JSON.stringify({ method: request.method, params: request.params, id: request.id }, null, 2) + '\n',
    );
    return null;
  }
}
