/**
 * Building blocks shared by the settings schemas: the original's optional semantics (a missing key,
 * null or "" takes the default), host:port and URL strings, and type-dispatched `{type, settings}`
 * unions whose errors name the bad type and list the legal ones.
 */
import { z } from 'zod';
import type * as core from 'zod/v4/core';

/** Missing, null and "" all mean "not given" (the original's IsOptional). */
function emptyToUndefined(value: unknown): unknown {
  return value === '' || value === null ? undefined : value;
}

/** An optional field: absent, null or "" → undefined. */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(emptyToUndefined, schema.optional());
}

/** A field with a default: absent, null or "" → `value`. */
export function withDefault<T extends z.ZodType>(schema: T, value: z.output<T>) {
  return z.preprocess(emptyToUndefined, schema.default(value as never));
}

const HOST_PORT = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/;
const MAX_PORT = 65535;

/** A `host:port` listen or dial address (host may be empty, `[v6]` or a name). */
export const hostPort = z.string().refine((value) => {
  const match = HOST_PORT.exec(value);
  return match !== null && Number(match[2]) <= MAX_PORT;
}, 'must be host:port (e.g. localhost:4444)');

/** An absolute http(s) URL. */
export const httpUrl = z.string().refine((value) => {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}, 'must be an http:// or https:// URL');

/** A list of file paths. */
export const fileList = z.array(z.string());

/** Seconds as a positive number (fractions allowed). */
export const seconds = z.number().positive();

/**
 * A `{type, settings, ...}` map dispatched on `type`. Options must be strict objects with a literal
 * `type`; an unknown or missing type yields one clear message naming `kind`.
 */
export function typedUnion<
  const Options extends readonly [core.$ZodTypeDiscriminable, ...core.$ZodTypeDiscriminable[]],
>(kind: string, options: Options) {
  return z.discriminatedUnion('type', options, {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const legal = 'options' in issue && Array.isArray(issue.options) ? issue.options.join(', ') : '';
      const input = issue.input;
      const type =
        typeof input === 'object' && input !== null ? (input as { type?: unknown }).type : undefined;
      if (type === undefined || type === null || type === '') {
        return `${kind} type is required (legal types: ${legal})`;
      }
      return `unknown ${kind} type ${JSON.stringify(type)} (legal types: ${legal})`;
    },
  });
}
