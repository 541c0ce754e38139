/**
 * Protobuf encoding of the EPS messages (proto/eps.proto) straight from and to plain JSON values.
 * google.protobuf.Struct is encoded as the well-known type (map<string, Value>) so that Go peers read it.
 * Numbers become doubles on the wire, as with the original [WIRE, docs/protocol.md#struct-encoding].
 */
import protobuf from 'protobufjs/minimal.js';
import type { JsonObject, JsonValue } from '../core/json.js';
import { CodedError, errorMessage } from '../core/errors.js';

const { Writer, Reader } = protobuf;
type W = protobuf.Writer;
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

export class CodecError extends CodedError<'ERR_GRPC_CODEC'> {
  constructor(message: string) {
    super('ERR_GRPC_CODEC', message);
    this.name = 'CodecError';
  }
}

const LEN = 2;
const VARINT = 0;
const FIXED64 = 1;
const MAX_DEPTH = 100;

function tag(field: number, wire: number): number {
  return (field << 3) | wire;
}

function writeStruct(w: W, obj: JsonObject, depth: number): void {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === undefined) continue;
    w.uint32(tag(1, LEN)).fork();
    w.uint32(tag(1, LEN)).string(key);
    w.uint32(tag(2, LEN)).fork();
    writeValue(w, value, depth + 1);
    w.ldelim();
    w.ldelim();
  }
}

function writeValue(w: W, value: JsonValue, depth: number): void {
  if (depth > MAX_DEPTH) throw new CodecError('value nested too deeply');
  if (value === null) {
    w.uint32(tag(1, VARINT)).int32(0);
  } else if (typeof value === 'number') {
    w.uint32(tag(2, FIXED64)).double(value);
  } else if (typeof value === 'string') {
    w.uint32(tag(3, LEN)).string(value);
  } else if (typeof value === 'boolean') {
    w.uint32(tag(4, VARINT)).bool(value);
  } else if (Array.isArray(value)) {
    w.uint32(tag(6, LEN)).fork();
    for (const item of value) {
      w.uint32(tag(1, LEN)).fork();
      writeValue(w, item, depth + 1);
      w.ldelim();
    }
    w.ldelim();
  } else if (typeof value === 'object') {
    w.uint32(tag(5, LEN)).fork();
    writeStruct(w, value, depth + 1);
    w.ldelim();
  } else {
    throw new CodecError(`cannot encode value of type ${typeof value}`);
  }
}

function writeStructField(w: W, field: number, obj: JsonObject): void {
  w.uint32(tag(field, LEN)).fork();
  writeStruct(w, obj, 0);
  w.ldelim();
}

export function encodeRequest(req: WireRequest): Uint8Array {
  const w = Writer.create();
  if (req.method) w.uint32(tag(1, LEN)).string(req.method);
  writeStructField(w, 2, req.params);
  if (req.id) w.uint32(tag(3, LEN)).string(req.id);
  if (req.clientName) w.uint32(tag(4, LEN)).string(req.clientName);
  return w.finish();
}

export function encodeResponse(res: WireResponse): Uint8Array {
  const w = Writer.create();
  if (res.id) w.uint32(tag(1, LEN)).string(res.id);
  if (res.result !== undefined) writeStructField(w, 2, res.result);
  if (res.error !== undefined) {
    w.uint32(tag(3, LEN)).fork();
    if (res.error.code !== 0) w.uint32(tag(1, VARINT)).int32(res.error.code);
    if (res.error.message) w.uint32(tag(2, LEN)).string(res.error.message);
    if (res.error.data !== undefined) writeStructField(w, 3, res.error.data);
    w.ldelim();
  }
  return w.finish();
}

/** Sets a property without ever touching the prototype (a key may be "__proto__"). */
function setOwn(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function readStruct(r: R, end: number, depth: number): JsonObject {
  if (depth > MAX_DEPTH) throw new CodecError('struct nested too deeply');
  const obj: JsonObject = {};
  while (r.pos < end) {
    const t = r.uint32();
    if (t >>> 3 === 1 && (t & 7) === LEN) {
      const entryEnd = r.uint32() + r.pos;
      let key = '';
      let value: JsonValue = null;
      while (r.pos < entryEnd) {
        const et = r.uint32();
        if (et >>> 3 === 1 && (et & 7) === LEN) key = r.string();
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
  if (depth > MAX_DEPTH) throw new CodecError('value nested too deeply');
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
        value = r.string();
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
          req.method = r.string();
          break;
        case 2:
          req.params = readStruct(r, r.uint32() + r.pos, 0);
          break;
        case 3:
          req.id = r.string();
          break;
        case 4:
          req.clientName = r.string();
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
        err.message = r.string();
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
          res.id = r.string();
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
