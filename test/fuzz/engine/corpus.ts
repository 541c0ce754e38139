/**
 * The kept corpus of a target, one input per file in fuzz/corpus/<target>/: `seed-*` (valid inputs built
 * by the harness), `cov-*` (inputs that reached new code) and `finding-*` (inputs that once broke a
 * property: regression inputs, never dropped). File names carry a hash of the content.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CorpusKind = 'seed' | 'cov' | 'finding';

/** Upper bound on the bytes of kept `cov-*` inputs per target (seeds and findings come on top). */
export const MAX_KEPT_COVERAGE_BYTES = 96 * 1024;

export const CORPUS_ROOT = new URL('../../../fuzz/corpus/', import.meta.url).pathname;

export function corpusDir(target: string): string {
  return join(CORPUS_ROOT, target);
}

export function fileNameFor(kind: CorpusKind, input: Buffer): string {
  return `${kind}-${createHash('sha256').update(input).digest('hex').slice(0, 16)}`;
}

export interface CorpusFile {
  name: string;
  kind: CorpusKind;
  data: Buffer;
}

function kindOf(name: string): CorpusKind | undefined {
  const prefix = name.slice(0, name.indexOf('-'));
  return prefix === 'seed' || prefix === 'cov' || prefix === 'finding' ? prefix : undefined;
}

export function loadCorpus(target: string): CorpusFile[] {
  const dir = corpusDir(target);
  if (!existsSync(dir)) return [];
  const out: CorpusFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const kind = kindOf(name);
    if (kind) out.push({ name, kind, data: readFileSync(join(dir, name)) });
  }
  return out;
}

/** Writes one input (if not there yet); returns its file name. */
export function keepInput(target: string, kind: CorpusKind, input: Buffer): string {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  const name = fileNameFor(kind, input);
  const path = join(dir, name);
  if (!existsSync(path)) writeFileSync(path, input);
  return name;
}

/** Replaces the `cov-*` files of a target by `inputs` (already minimised by the caller). */
export function replaceCoverageInputs(target: string, inputs: readonly Buffer[]): void {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(inputs.map((input) => fileNameFor('cov', input)));
  for (const name of readdirSync(dir)) {
    if (kindOf(name) === 'cov' && !wanted.has(name)) rmSync(join(dir, name));
  }
  for (const input of inputs) keepInput(target, 'cov', input);
}
