/**
 * What one peer's tip means for our verified chain [docs/transparency.md#healing]:
 *
 * - the same tip or a prefix of ours: nothing to do (a peer behind us heals from us, after asking us for a
 *   consistency proof); a root that is not ours at that size is `unverifiable`;
 * - ahead: first, when the tip has a root, ask the peer for a consistency proof from our size to its size and
 *   verify it against our own root (O(log n) hashes). A valid proof means our chain is its prefix: ask for
 *   the records after our head, page by page (MAX_PAGE_RECORDS each, at most MAX_HEAL_RECORDS per check),
 *   and give each page to the directory, which verifies it exactly like the SD's records and persists it;
 *   records gained this way raise `withheld` (our SD did not serve them). A proof that fails means we are
 *   not its prefix: a fork or a lie, which its records decide (below). A peer that does not know the proof
 *   method (UNIMPLEMENTED), or a tip without a root, goes straight to the records, which must hang off our
 *   head;
 * - diverged (or the proof failed, or the records do not hang off our head): find the first index where the
 *   chains differ (binary search over single records: the hash chain makes "same record" monotone) and
 *   verify the peer's branch after our common prefix with the same rules (the prefix is ours and verified
 *   already: its pins and entries are replayed, not its signatures). A valid branch is a `fork` (nothing
 *   adopted, our branch kept); anything else is `unverifiable`.
 *
 * A peer that cannot back its tip (no records, bad records, a bad proof with records that agree with ours, a
 * page larger than asked, a failure or timeout) gets `unverifiable`; what was already verified and applied
 * stays, nothing else is taken.
 */
import type { SignedChangeRecord } from '../core/directory-entry.js';
import { CodedError, errorMessage } from '../core/errors.js';
import type { IngestOutcome } from '../directory/verified-mirror.js';
import { GrpcError, Status } from '../grpc/status.js';
import { checkConsistencyProof, type ConsistencyProof, type RecordTree } from '../records/index.js';
import type { AlarmKind, Alarms } from './alarms.js';
import { relate, tipOf, type Tip } from './tip.js';
import { MAX_PAGE_RECORDS, type ConsistencyQuery, type RecordsPage, type RecordsQuery } from './wire.js';

/** Most records taken from one peer in one check (the next exchange of tips goes on from there). */
export const MAX_HEAL_RECORDS = 100_000;
/** Most records of a peer's diverging branch held to verify a fork; a longer branch is not examined. */
export const MAX_BRANCH_RECORDS = 10_000;

/** The verified chain as the checks need it (ApiDirectory). */
export interface VerifiedChain {
  readonly sdName: string;
  chain(): readonly SignedChangeRecord[];
  /** The Merkle tree over chain(), in step with it. */
  tree(): RecordTree;
  extendFromPeer(records: readonly SignedChangeRecord[], peer: string): Promise<IngestOutcome>;
  /** Verifies `branch` after `common` (a prefix of chain()) with the same rules; rejects when it fails. */
  verifyBranch(common: readonly SignedChangeRecord[], branch: readonly SignedChangeRecord[]): Promise<void>;
}

/**
 * What a peer is asked during a check (each request with its own deadline); each rejects when the peer
 * cannot answer, with PeerUnreachable when there was no connection to ask it on.
 */
export interface PeerSource {
  page(peer: string, query: RecordsQuery): Promise<RecordsPage>;
  consistency(peer: string, query: ConsistencyQuery): Promise<ConsistencyProof>;
}

export type CheckVerdict = 'consistent' | 'healed' | 'fork' | 'unverifiable' | 'unreachable';

/** The peer advertised a tip it cannot back with records that verify (an `unverifiable` alarm). */
export class Unverifiable extends CodedError<'ERR_TRANSPARENCY_UNVERIFIABLE'> {
  override readonly name = 'Unverifiable';

  constructor(message: string) {
    super('ERR_TRANSPARENCY_UNVERIFIABLE', message);
  }
}

/**
 * The fetcher could not get a connection to the peer at all (e.g. a caller without a reachable gRPC
 * server told us its tip): nothing is known against it, so no alarm; its tip is looked at again later.
 */
export class PeerUnreachable extends CodedError<'ERR_TRANSPARENCY_UNREACHABLE'> {
  override readonly name = 'PeerUnreachable';

  constructor(message: string) {
    super('ERR_TRANSPARENCY_UNREACHABLE', message);
  }
}

export class PeerCheck {
  constructor(
    private readonly directory: VerifiedChain,
    private readonly source: PeerSource,
    private readonly alarms: Alarms,
  ) {}

  async run(peer: string, theirs: Tip): Promise<CheckVerdict> {
    const before = tipOf(this.directory.chain());
    try {
      switch (relate(this.directory.chain(), theirs)) {
        case 'same':
        case 'behind':
          return this.sameRoot(theirs);
        case 'ahead': {
          const proof = await this.proveWeArePrefix(peer, theirs);
          if (proof.ok) return await this.heal(peer, theirs, before);
          return await this.branch(peer, theirs, proof.reason);
        }
        case 'diverged':
          return await this.branch(peer, theirs);
      }
    } catch (e) {
      if (e instanceof PeerUnreachable) return 'unreachable';
      this.alarm('unverifiable', peer, theirs, errorMessage(e), before);
      return 'unverifiable';
    }
  }

  /** A tip whose head is one of our records must have our root at its size too (when it states one). */
  private sameRoot(theirs: Tip): CheckVerdict {
    if (theirs.root === undefined || theirs.root === this.directory.tree().tip(theirs.size).root) {
      return 'consistent';
    }
    throw new Unverifiable(`its root for ${theirs.size} records is not the root of those records`);
  }

  /**
   * Asks the peer (ahead of us) to prove that our chain is a prefix of its tip; `ok` also when it cannot be
   * asked (a tip without a root, a peer without the method): the records then decide, as before proofs.
   */
  private async proveWeArePrefix(
    peer: string,
    theirs: Tip,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const ours = this.directory.tree().tip();
    if (theirs.root === undefined || ours.size === 0) return { ok: true };
    let proof: ConsistencyProof;
    try {
      proof = await this.source.consistency(peer, { first: ours.size, second: theirs.size });
    } catch (e) {
      if (e instanceof GrpcError && e.code === Status.UNIMPLEMENTED) return { ok: true };
      if (e instanceof PeerUnreachable) throw e;
      throw new Unverifiable(`cannot prove its tip extends ours: ${errorMessage(e)}`);
    }
    const check = checkConsistencyProof(proof, ours, { ...theirs, root: theirs.root });
    return check.ok ? check : { ok: false, reason: `its consistency proof fails: ${check.reason}` };
  }

  private async heal(peer: string, theirs: Tip, before: Tip): Promise<CheckVerdict> {
    let taken = 0;
    try {
      while (this.directory.chain().length < theirs.size && taken < MAX_HEAL_RECORDS) {
        const chain = this.directory.chain();
        const from = chain.length;
        const limit = Math.min(MAX_PAGE_RECORDS, theirs.size - from);
        const page = await this.page(peer, { from, limit });
        if (page.length === 0) throw new Unverifiable(`served no records from index ${from}`);
        if (page[0]!.parent_hash !== (chain.at(-1)?.hash ?? '')) {
          if (taken > 0)
            throw new Unverifiable(`records from index ${from} do not extend the ones it served`);
          return await this.branch(peer, theirs);
        }
        try {
          await this.directory.extendFromPeer(page, peer);
        } catch (e) {
          throw new Unverifiable(`served records that fail verification: ${errorMessage(e)}`);
        }
        taken += page.length;
      }
      if (relate(this.directory.chain(), theirs) === 'ahead' && taken < MAX_HEAL_RECORDS) {
        throw new Unverifiable('its records do not reach the tip it advertised');
      }
    } finally {
      if (taken > 0) {
        this.alarm('withheld', peer, theirs, `${taken} records the service directory did not serve`, before);
      }
    }
    return 'healed';
  }

  /** `disproved`: why its consistency proof showed we are not its prefix (if that is how we got here). */
  private async branch(peer: string, theirs: Tip, disproved?: string): Promise<CheckVerdict> {
    const ours = this.directory.chain();
    const diverge = await this.firstDifference(peer, ours, theirs.size);
    if (diverge === Math.min(ours.length, theirs.size)) {
      // Its records agree with all of ours it has: no fork, so its tip or its proof is false.
      throw new Unverifiable(
        `its records agree with our first ${diverge}, which its ${disproved ? 'proof' : 'tip'} denies` +
          (disproved ? ` (${disproved})` : ''),
      );
    }
    if (theirs.size - diverge > MAX_BRANCH_RECORDS) {
      throw new Unverifiable(
        `its diverging branch (${theirs.size - diverge} records) is too long to examine`,
      );
    }
    const branch: SignedChangeRecord[] = [];
    while (diverge + branch.length < theirs.size) {
      const from = diverge + branch.length;
      const page = await this.page(peer, { from, limit: Math.min(MAX_PAGE_RECORDS, theirs.size - from) });
      if (page.length === 0) throw new Unverifiable(`served no records from index ${from}`);
      branch.push(...page);
    }
    if (branch.at(-1)?.hash !== theirs.head)
      throw new Unverifiable('its records do not end at the tip it advertised');
    try {
      await this.directory.verifyBranch(ours.slice(0, diverge), branch);
    } catch (e) {
      throw new Unverifiable(`its branch fails verification: ${errorMessage(e)}`);
    }
    this.alarm('fork', peer, theirs, `the chains differ from record ${diverge}`, tipOf(ours));
    return 'fork';
  }

  /** The first index whose record differs between our chain and the peer's (O(log n) single-record pages). */
  private async firstDifference(
    peer: string,
    ours: readonly SignedChangeRecord[],
    theirSize: number,
  ): Promise<number> {
    let low = 0;
    let high = Math.min(ours.length, theirSize);
    while (low < high) {
      const mid = (low + high) >>> 1;
      const [record] = await this.page(peer, { from: mid, limit: 1 });
      if (!record) throw new Unverifiable(`served no record at index ${mid}`);
      if (record.hash === ours[mid]!.hash) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private async page(peer: string, query: RecordsQuery): Promise<SignedChangeRecord[]> {
    try {
      return (await this.source.page(peer, query)).records;
    } catch (e) {
      if (e instanceof PeerUnreachable) throw e;
      throw new Unverifiable(`cannot serve records from index ${query.from}: ${errorMessage(e)}`);
    }
  }

  private alarm(kind: AlarmKind, peer: string, theirs: Tip, detail: string, ours: Tip): void {
    this.alarms.raise({ kind, sd: this.directory.sdName, peer, ours, theirs, detail });
  }
}
