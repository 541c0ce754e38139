/**
 * Protobuf encoding of the EPS messages (proto/eps.proto) straight from and to plain JSON values.
 * google.protobuf.Struct is encoded as the well-known type (map<string, Value>) so that Go peers read it.
 * Numbers become doubles on the wire, as with the original [WIRE, docs/protocol.md#struct-encoding].
 */
import protobuf from 'protobufjs/minimal.js';
import type { JsonObject, JsonValue } from '../core/json.js';
import { errorMessage } from '../core/errors.js';
import { utf8Text } from './short-strings.js';
import { CodecError, encodeMessage, MAX_STRUCT_DEPTH, type ProtoField } from './proto-writer.js';

const { Reader } = protobuf;
type R = protobuf.Reader;

export interface WireRequest {
  method: string;
  params: JsonObject;
  id: string;
  clientName: string;
}

export interface WireError {
  code: number;
  message: string;
  /** Absent on the wire = undefined here. */
  data?: JsonObject;
}

export interface WireResponse {
  id: string;
  /** Absent on the wire = undefined here (the original reads it as an empty object). */
  result?: JsonObject;
  error?: WireError;
}

export { CodecError };

export function encodeRequest(req: WireRequest): Uint8Array {
  const fields: ProtoField[] = [];
  if (req.method) fields.push({ no: 1, string: req.method });
  fields.push({ no: 2, struct: req.params });
  if (req.id) fields.push({ no: 3, string: req.id });
  if (req.clientName) fields.push({ no: 4, string: req.clientName });
  return encodeMessage(fields);
}

export function encodeResponse(res: WireResponse): Uint8Array {
  const fields: ProtoField[] = [];
  if (res.id) fields.push({ no: 1, string: res.id });
  if (res.result !== undefined) fields.push({ no: 2, struct: res.result });
  if (res.error !== undefined) {
    const error: ProtoField[] = [];
    if (res.error.code !== 0) error.push({ no: 1, int32: res.error.code });
    if (res.error.message) error.push({ no: 2, string: res.error.message });
    if (res.error.data !== undefined) error.push({ no: 3, struct: res.error.data });
    fields.push({ no: 3, message: error });
  }
  return encodeMessage(fields);
}

const LEN = 2;

/** Sets a property without ever touching the prototype (a key may be "__proto__"). */
function setOwn(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function readStruct(r: R, end: number, depth: number): JsonObject {
  if (depth > MAX_STRUCT_DEPTH) throw new CodecError('struct nested too deeply');
  const obj: JsonObject = {};
  while (r.pos < end) {
    const t = r.uint32();
    if (t >>> 3 === 1 && (t & 7) === LEN) {
      const entryEnd = r.uint32() + r.pos;
      let key = '';
      let value: JsonValue = null;
      while (r.pos < entryEnd) {
        const et = r.uint32();
        if (et >>> 3 === 1 && (et & 7) === LEN) key = readString(r);
        else if (et >>> 3 === 2 && (et & 7) === LEN) value = readValue(r, r.uint32() + r.pos, depth + 1);
        else r.skipType(et & 7);
      }
      setOwn(obj, key, value);
    } else {
      r.skipType(t & 7);
    }
  }
  return obj;
}

function readList(r: R, end: number, depth: number): JsonValue[] {
  const list: JsonValue[] = [];
  while (r.pos < end) {
    const t = r.uint32();
    if (t >>> 3 === 1 && (t & 7) === LEN) list.push(readValue(r, r.uint32() + r.pos, depth + 1));
    else r.skipType(t & 7);
  }
  return list;
}

function readValue(r: R, end: number, depth: number): JsonValue {
  if (depth > MAX_STRUCT_DEPTH) throw new CodecError('value nested too deeply');
  let value: JsonValue = null;
  while (r.pos < end) {
    const t = r.uint32();
    switch (t >>> 3) {
      case 1:
        r.int32();
        value = null;
        break;
      case 2:
        value = r.double();
        break;
      case 3:
        value = readString(r);
        break;
      case 4:
        value = r.bool();
        break;
      case 5:
        value = readStruct(r, r.uint32() + r.pos, depth + 1);
        break;
      case 6:
        value = readList(r, r.uint32() + r.pos, depth + 1);
        break;
      default:
        r.skipType(t & 7);
    }
  }
  if (r.pos !== end) throw new CodecError('malformed value');
  return value;
}

/** A length-delimited string, through the table of short strings (short-strings.ts). */
function readString(r: R): string {
  const length = r.uint32();
  const start = r.pos;
  const end = start + length;
  if (end > r.len) throw new CodecError('string longer than its message');
  r.pos = end;
  return utf8Text(r.buf, start, end);
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError(`malformed protobuf message: ${errorMessage(e)}`);
  }
}

export function decodeRequest(buf: Uint8Array): WireRequest {
  return guard(() => {
    const r = Reader.create(buf);
    const req: WireRequest = { method: '', params: {}, id: '', clientName: '' };
    while (r.pos < r.len) {
      const t = r.uint32();
      switch (t >>> 3) {
        case 1:
          req.method = readString(r);
          break;
        case 2:
          req.params = readStruct(r, r.uint32() + r.pos, 0);
          break;
        case 3:
          req.id = readString(r);
          break;
        case 4:
          req.clientName = readString(r);
          break;
        default:
          r.skipType(t & 7);
      }
    }
    return req;
  });
}

function readError(r: R, end: number): WireError {
  const err: WireError = { code: 0, message: '' };
  while (r.pos < end) {
    const t = r.uint32();
    switch (t >>> 3) {
      case 1:
        err.code = r.int32();
        break;
      case 2:
        err.message = readString(r);
        break;
      case 3:
        err.data = readStruct(r, r.uint32() + r.pos, 0);
        break;
      default:
        r.skipType(t & 7);
    }
  }
  return err;
}

export function decodeResponse(buf: Uint8Array): WireResponse {
  return guard(() => {
    const r = Reader.create(buf);
    const res: WireResponse = { id: '' };
    while (r.pos < r.len) {
      const t = r.uint32();
      switch (t >>> 3) {
        case 1:
          res.id = readString(r);
          break;
        case 2:
          res.result = readStruct(r, r.uint32() + r.pos, 0);
          break;
        case 3:
          res.error = readError(r, r.uint32() + r.pos);
          break;
        default:
          r.skipType(t & 7);
      }
    }
    return res;
  });
}
