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

/** RFC 9113 §8.2.2: fields of HTTP/1.1 connection management; a message carrying one is malformed. */
export function connectionSpecific(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
      return true;
    default:
      return false;
  }
}

export function isPseudoHeader(name: string): boolean {
  return name.charCodeAt(0) === COLON;
}

/**
 * What is wrong with one field (undefined: nothing): `regularSeen` tells whether a regular field came
 * before it in the block, `repeated` whether its name did.
 */
export function fieldProblem(
  name: string,
  value: string,
  regularSeen: boolean,
  repeated: boolean,
): string | undefined {
  const pseudo = isPseudoHeader(name);
  if (!validName(name, pseudo ? 1 : 0)) return `invalid header field name ${JSON.stringify(name)}`;
  if (!validValue(value)) return `invalid value of header field ${name}`;
  if (pseudo && regularSeen) return `pseudo-header field ${name} after a regular field`;
  if (pseudo && repeated) return `pseudo-header field ${name} repeated`;
  return undefined;
}
