/** HTTP/2 codes (RFC 9113 §6, §7, §11): frame types, flags, error codes and settings. */

/*
 * Each table of codes below is a const object and a type of the same name (the union of its values).
 * The types are for the codes we send; a value read from the wire (a frame's type, a peer's error code)
 * can be any number of its width and stays a number (PeerErrorCode for error codes), compared against
 * these tables. Flags are not a type: a frame's flags are a bit mask of several of them.
 */

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

declare const peerValue: unique symbol;
/**
 * An error code as the peer sent it (RST_STREAM, GOAWAY): any 32-bit value, since RFC 9113 §7 lets peers
 * use codes we do not know. Not narrowed to ErrorCode, and branded so that it cannot be passed where we
 * send a code of our own. Compared with ErrorCode members; errorName() names it.
 */
export type PeerErrorCode = number & { readonly [peerValue]: true };

export function readErrorCode(payload: Buffer, offset: number): PeerErrorCode {
  return payload.readUInt32BE(offset) as PeerErrorCode;
}

const ERROR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

export function errorName(code: ErrorCode | PeerErrorCode): string {
  return ERROR_NAMES[code] ?? `error 0x${code.toString(16)}`;
}

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;
export type Setting = (typeof Setting)[keyof typeof Setting];
