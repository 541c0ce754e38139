/**
 * gRPC status codes (gRPC over HTTP/2, "status codes"). They live in core/ so that the outcome table
 * (outcome.ts) can name them; grpc/status.ts re-exports them next to GrpcError.
 */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A status we send; a status received from a peer may be any number and is typed `number`. */
export type StatusCode = (typeof Status)[keyof typeof Status];
