/**
 * Addressed request IDs: `OPERATOR "." METHOD "(" LOCALID ")"` [WIRE, docs/protocol.md#addressed-ids].
 * The ID names the recipient and method; the sender is only known from the transport.
 */
import { CodedError } from './errors.js';

export interface Address {
  operator: string;
  method: string;
  localId: string;
}

export class InvalidAddressError extends CodedError<'ERR_CORE_INVALID_ADDRESS'> {
  constructor() {
    super('ERR_CORE_INVALID_ADDRESS', 'invalid ID format');
    this.name = 'InvalidAddressError';
  }
}

/** Parses an addressed ID, choosing the right-most workable dot (same result as the original regex). */
export function parseAddress(id: string): Address {
  if (!id.endsWith(')')) throw new InvalidAddressError();
  const end = id.length - 1;
  for (let dot = id.lastIndexOf('.'); dot >= 0; dot = dot === 0 ? -1 : id.lastIndexOf('.', dot - 1)) {
    const open = id.indexOf('(', dot + 1);
    if (open < 0 || open >= end) continue;
    const method = id.slice(dot + 1, open);
    if (method.length === 0 || method.includes('.')) continue;
    const localId = id.slice(open + 1, end);
    if (localId.length === 0 || localId.includes(')')) continue;
    return { operator: id.slice(0, dot), method, localId };
  }
  throw new InvalidAddressError();
}

export function formatAddress(operator: string, method: string, localId: string): string {
  return `${operator}.${method}(${localId})`;
}
