/** Merkle tree over the directory's records (RFC 9162 §2.1 shape): tips, inclusion and consistency proofs. */
export * from './hash.js';
export { MerkleTree } from './tree.js';
export * from './verify.js';
export * from './record-tree.js';
export * from './proof-check.js';
export { ChainTree } from './chain-tree.js';
export * from './queries.js';
