/** A broker failure (not a response): surfaces as code 1 at the gateway, UNKNOWN on gRPC, -100 on streams. */
export class BrokerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerError';
  }
}
