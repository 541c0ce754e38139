/** Conversions between broker messages and gRPC wire messages [WIRE, docs/protocol.md#messages]. */
import type { EpsResponse } from '../core/messages.js';
import type { WireResponse } from './codec.js';

/** What a receiving node sends back for a broker outcome; the id is always the request's id. */
export function toWireResponse(requestId: string, outcome: EpsResponse | null): WireResponse {
  const wire: WireResponse = { id: requestId };
  if (!outcome) return wire;
  if (outcome.result) wire.result = outcome.result;
  if (outcome.error) {
    wire.error = { code: outcome.error.code, message: outcome.error.message };
    if (outcome.error.data) wire.error.data = outcome.error.data;
  }
  return wire;
}

/** What a caller makes of a wire response: absent structs read as empty objects, as the original does. */
export function fromWireResponse(wire: WireResponse): EpsResponse {
  const res: EpsResponse = { id: wire.id, result: wire.result ?? {} };
  if (wire.error) {
    res.error = { code: wire.error.code, message: wire.error.message, data: wire.error.data ?? {} };
  }
  return res;
}
