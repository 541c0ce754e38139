/**
 * The rules every HTTP/2 header field must follow, requests and responses alike (RFC 9113 §8.2.1, §8.3):
 * names are lowercase tokens, values hold no NUL, CR or LF and no whitespace at either end, and
 * pseudo-header fields come before all regular ones and never twice. The HPACK decoder applies them to
 * each field as it decodes it (fields repeat and lose their order in a HeaderMap), and reports the first
 * problem; a block with one is malformed: a stream error PROTOCOL_ERROR (§8.1.1).
 */

const COLON = 0x3a;

/** 1 for the bytes allowed in a field name: RFC 9110's token characters, lowercase only. */
const NAME_BYTE = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_BYTE[c.charCodeAt(0)] = 1;

function validName(name: string, from: number): boolean {
  if (name.length <= from) return false;
  for (let i = from; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_BYTE[c] === 0) return false;
  }
  return true;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  if (isBlank(value.charCodeAt(0)) || isBlank(value.charCodeAt(n - 1))) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

/**
 * RFC 9113 §8.2.2: whether a block holds a field of HTTP/1.1 connection management (connection,
 * keep-alive, proxy-connection, transfer-encoding, upgrade); a message with one is malformed. Looked up
 * by name, not by walking the fields.
 */
export function hasConnectionSpecificField(headers: Readonly<Record<string, string>>): boolean {
  return (
    headers['connection'] !== undefined ||
    headers['keep-alive'] !== undefined ||
    headers['proxy-connection'] !== undefined ||
    headers['transfer-encoding'] !== undefined ||
    headers['upgrade'] !== undefined
  );
}

export function isPseudoHeader(name: string): boolean {
  return name.charCodeAt(0) === COLON;
}

/** What of a field HPACK took from its static table, whose names and values are all valid. */
export const FromStatic = { NOTHING: 0, NAME: 1, FIELD: 2 } as const;
export type FromStatic = (typeof FromStatic)[keyof typeof FromStatic];

/**
 * What is wrong with one field (undefined: nothing): `misplaced` when it is a pseudo-header field after a
 * regular one, `repeated` when it is a pseudo-header field the block already held.
 */
export function fieldProblem(
  name: string,
  value: string,
  fromStatic: FromStatic,
  misplaced: boolean,
  repeated: boolean,
): string | undefined {
  if (fromStatic === FromStatic.NOTHING && !validName(name, isPseudoHeader(name) ? 1 : 0)) {
    return `invalid header field name ${JSON.stringify(name)}`;
  }
  if (fromStatic !== FromStatic.FIELD && !validValue(value)) return `invalid value of header field ${name}`;
  if (misplaced) return `pseudo-header field ${name} after a regular field`;
  if (repeated) return `pseudo-header field ${name} repeated`;
  return undefined;
}
