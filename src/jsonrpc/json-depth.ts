/**
 * A bound on how deeply a JSON text nests, checked before it is parsed. JSON.parse copes with deep
 * input, but what handles the value afterwards (JSON.stringify, protobuf encoding, validation) recurses
 * and overflows the stack: 30,000 nested arrays in a 60 KB request used to end in HTTP 500.
 */

/**
 * Arrays and objects inside one another, at most. Real JSON-RPC requests and replies nest a handful of
 * levels; 64 leaves room for rich params while every recursive walk of the value stays far from the
 * stack limit (about 10,000 frames).
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * True when `text` nests arrays and objects more than `limit` levels deep. One linear pass without
 * recursion; brackets inside strings (escaped quotes included) do not count. The text need not be valid
 * JSON: JSON.parse judges that afterwards.
 */
export function exceedsJsonDepth(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}
