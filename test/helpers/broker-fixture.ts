/** The broker unit tests' fixture: eps-1's directory, a scripted channel, requests (broker*.test.ts). */
import assert from 'node:assert/strict';
import type { Address } from '../../src/core/address.js';
import { newEntry, type DirectoryEntry } from '../../src/core/directory-entry.js';
import type { JsonObject } from '../../src/core/json.js';
import type { EpsRequest, EpsResponse } from '../../src/core/messages.js';
import { Broker } from '../../src/broker/broker.js';
import type { Channel, ChannelType, ConnectionRequest } from '../../src/broker/channel.js';
import { BrokerError } from '../../src/broker/errors.js';
import { fixedDirectory } from './fixed-directory.js';

export const OWN = 'eps-1';

export function entry(name: string, patch: Partial<DirectoryEntry> = {}): DirectoryEntry {
  return { ...newEntry(name), ...patch };
}

/** eps-1 offers `locations.add` and the internal methods to health departments; hd-1 is one, xx-1 is not; ls-1 is a third operator. */
export function entries(): DirectoryEntry[] {
  return [
    entry(OWN, {
      groups: ['operators'],
      services: [
        {
          name: 'locations',
          permissions: [{ group: 'health-departments', rights: ['call'] }],
          methods: [{ name: 'add', permissions: [], parameters: null }],
        },
        {
          name: 'internals',
          permissions: [{ group: 'health-departments', rights: ['call'] }],
          methods: ['_ping', '_directory', '_connectionRequest'].map((name) => ({
            name,
            permissions: [],
            parameters: null,
          })),
        },
      ],
      records: [
        {
          parent_hash: '',
          hash: 'h',
          signature: null,
          record: { name: OWN, section: 'groups', data: [], created_at: '' },
        },
      ],
    }),
    entry('hd-1', { groups: ['health-departments'] }),
    entry('xx-1', { groups: ['others'] }),
    entry('ls-1', { groups: ['health-departments'] }),
  ];
}

export type Deliver = (request: EpsRequest, address: Address) => Promise<EpsResponse | null>;

/** A channel that delivers to the operators it is given, recording what it was handed. */
export class FakeChannel implements Channel {
  readonly delivered: { request: EpsRequest; address: Address }[] = [];
  readonly connectionRequests: ConnectionRequest[] = [];
  acceptConnectionRequests = false;

  constructor(
    readonly type: ChannelType,
    private readonly operators: string[],
    private readonly answer: Deliver = (request, address) =>
      Promise.resolve({ id: request.id, result: { via: type, method: address.method } }),
  ) {}

  async open(): Promise<void> {}
  async close(): Promise<void> {}
  canDeliverTo(address: Address): boolean {
    return this.operators.includes(address.operator);
  }
  deliver(request: EpsRequest, address: Address): Promise<EpsResponse | null> {
    this.delivered.push({ request: structuredClone(request), address });
    return this.answer(request, address);
  }
  handleConnectionRequest(request: ConnectionRequest): Promise<boolean> {
    this.connectionRequests.push(request);
    return Promise.resolve(this.acceptConnectionRequests);
  }
}

export function broker(...channels: Channel[]): Broker {
  const b = new Broker(OWN, fixedDirectory(entries()));
  for (const c of channels) b.register(c);
  return b;
}

export function request(id: string, params: JsonObject = {}, method?: string): EpsRequest {
  const dot = id.lastIndexOf('.', id.indexOf('('));
  return { id, method: method ?? id.slice(0, id.indexOf('(', dot)), params };
}

export async function rejectsWith(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof BrokerError, `expected a BrokerError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}
