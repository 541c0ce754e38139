// Micro-benchmark of the directory's Merkle tree at 10,000 and 100,000 records: building the tree from the
// records (leaf encoding included), appending one record, and generating and verifying inclusion and
// consistency proofs (average over many random positions and sizes). Records are unsigned: leaves do not
// depend on signatures. Run alone: node --import tsx bench/merkle.ts
import { pathToFileURL } from 'node:url';
import type { SignedChangeRecord } from '../src/core/directory-entry.js';
import { checkConsistencyProof, checkInclusionProof, recordHash, RecordTree } from '../src/records/index.js';

const SIZES = [10_000, 100_000] as const;
const PROOFS = 2_000;

function chain(n: number): SignedChangeRecord[] {
  const out: SignedChangeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const record = {
      name: `op-${i % 40}`,
      section: 'groups',
      data: ['health-departments', `n-${i}`],
      created_at: '2021-05-17T10:00:00Z',
    };
    out.push({ parent_hash: out.at(-1)?.hash ?? '', hash: recordHash(record), signature: null, record });
  }
  return out;
}

const since = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;

export function benchMerkle(): string[] {
  const lines: string[] = [];
  let seed = 7;
  const random = (below: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % below;
  };
  for (const size of SIZES) {
    const records = chain(size + 1);
    let start = process.hrtime.bigint();
    const tree = RecordTree.of(records.slice(0, size));
    const buildMs = since(start);
    start = process.hrtime.bigint();
    const tip = tree.tip();
    const rootMs = since(start);
    start = process.hrtime.bigint();
    tree.append(records[size]!);
    tree.tip();
    const appendMs = since(start);
    const full = tree.tip();

    let incGen = 0;
    let incVer = 0;
    let conGen = 0;
    let conVer = 0;
    let hashes = 0;
    for (let i = 0; i < PROOFS; i++) {
      const index = random(full.size);
      let t = process.hrtime.bigint();
      const inclusion = tree.inclusionProof(index);
      incGen += since(t);
      t = process.hrtime.bigint();
      if (!checkInclusionProof(inclusion, full).ok) throw new Error('inclusion proof failed');
      incVer += since(t);
      const first = 1 + random(full.size - 1);
      const from = tree.tip(first);
      t = process.hrtime.bigint();
      const consistency = tree.consistencyProof(first);
      conGen += since(t);
      t = process.hrtime.bigint();
      if (!checkConsistencyProof(consistency, from, full).ok) throw new Error('consistency proof failed');
      conVer += since(t);
      hashes = Math.max(hashes, consistency.path.length, inclusion.path.length);
    }
    const us = (total: number): string => `${((total / PROOFS) * 1000).toFixed(1)} µs`;
    lines.push(
      `${size.toLocaleString('en')} records: build ${buildMs.toFixed(0)} ms, root ${rootMs.toFixed(2)} ms, ` +
        `append one ${appendMs.toFixed(3)} ms; inclusion proof ${us(incGen)} + verify ${us(incVer)}, ` +
        `consistency proof ${us(conGen)} + verify ${us(conVer)} (at most ${hashes} hashes; root ${tip.root.slice(0, 8)}…)`,
    );
  }
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of benchMerkle()) console.log(line);
}
