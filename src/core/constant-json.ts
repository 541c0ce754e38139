/**
 * JSON objects that never change once made (the directory's entry views sent in every `_ping` answer and
 * as `_client`). They are deep copies, deep-frozen, so that an encoder may keep their bytes: a write to
 * one throws instead of sending stale bytes.
 */
import type { JsonObject, JsonValue } from './json.js';

const constants = new WeakSet();

function freezeDeep(value: JsonValue): void {
  if (typeof value !== 'object' || value === null) return;
  for (const item of Array.isArray(value) ? value : Object.values(value)) freezeDeep(item);
  Object.freeze(value);
}

/** A frozen deep copy of `value`, known to encoders as never changing. */
export function constantJson(value: JsonObject): JsonObject {
  const copy = structuredClone(value);
  freezeDeep(copy);
  constants.add(copy);
  return copy;
}

export function isConstantJson(value: object): boolean {
  return constants.has(value);
}
