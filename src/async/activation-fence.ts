/**
 * The fence of one activation of an instance on a Redis store of asynchronous calls (redis-table-store.ts
 * `under`): the token of the claim the activation began under, taken as a value when it began (never read
 * again from the lease, whose token changes with each claim), and a guard that lets writes through only
 * while that activation is the current one and the keeper lets this instance write. A call, outbox attempt
 * or sweep still in flight with the tables of a discarded activation fails here before sending, or is
 * refused by Redis (its token is no longer the lease's) without making the current claim standby.
 */
import { errorMessage } from '../core/errors.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { standbyError } from './lease-keeper.js';
import type { StoreFence } from './redis-table-store.js';

/** Why writes of a discarded activation are refused before they are sent. */
const DISCARDED = 'the tables of an earlier activation of this instance were discarded';

/** The fence of the activation beginning now under the keeper's current claim; `current`: still in use. */
export function activationFence(keeper: LeaseKeeper, current: () => boolean): StoreFence {
  const token = keeper.token;
  if (token === undefined) throw new Error('an activation without a claim of the lease');
  return {
    key: keeper.key,
    token,
    guard: () => {
      if (!current()) throw standbyError(DISCARDED);
      keeper.assertWritable();
    },
    refused: (holder) => keeper.refused(holder, token),
    unknownOutcome: (e) => keeper.unknownOutcome(errorMessage(e), token),
  };
}

/** The fence of tables that belong to no activation (standby, or not open yet): nothing is written. */
export function noWrites(why: () => string): StoreFence {
  const refuse = (): Error => standbyError(why());
  return {
    key: '',
    token: '',
    guard: () => {
      throw refuse();
    },
    refused: refuse,
    unknownOutcome: refuse,
  };
}
