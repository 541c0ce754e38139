// Micro-benchmark of the gRPC message codec on a `_ping` answer shaped like the dev network's (two entry
// views, ~1.8 kB on the wire): CPU per encode with plain views and with the constant views the broker uses
// (core/constant-json.ts, encoded once), and per decode. CPU time of this process, not wall time, so a
// busy machine disturbs it less. Run alone: node --import tsx bench/codec.ts
import { pathToFileURL } from 'node:url';
import { decodeResponse, encodeResponse, type WireResponse } from '../src/grpc/codec.js';
import { constantJson } from '../src/core/constant-json.js';
import type { JsonObject } from '../src/core/json.js';

const RUNS = 200_000;

function entryView(name: string): JsonObject {
  return {
    name,
    groups: ['location-services', 'health-departments'],
    channels: [{ type: 'grpc_server', settings: { address: `${name}.ga:4444`, tls: true } }],
    services: [
      {
        name: 'locations',
        permissions: [{ group: 'health-departments', rights: ['call'] }],
        methods: ['add', 'get', 'list', 'delete'],
      },
    ],
    certificates: [
      { fingerprint: 'a'.repeat(64), key_usage: 'signing' },
      { fingerprint: 'b'.repeat(64), key_usage: 'encryption' },
    ],
    settings: { proxy: 'public-proxy-1.ga', verbose: false, limit: 16 },
    preferences: { lang: 'de' },
    properties: { city: 'Berlin', 'street no': 12 },
  };
}

function pingAnswer(caller: JsonObject, own: JsonObject): WireResponse {
  return {
    id: 'ls-1._ping(n:1)',
    result: {
      version: '0.1.0',
      timestamp: '2026-12-03T13:40:00.123+00:00',
      params: { _client: { name: 'hd-1', entry: caller } },
      serverInfo: own,
    },
  };
}

function cpuMicros(run: () => unknown): number {
  for (let i = 0; i < RUNS / 4; i++) run();
  const start = process.cpuUsage();
  for (let i = 0; i < RUNS; i++) run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / RUNS;
}

export function benchCodec(): string[] {
  const plain = pingAnswer(entryView('hd-1'), entryView('ls-1'));
  const constant = pingAnswer(constantJson(entryView('hd-1')), constantJson(entryView('ls-1')));
  const bytes = encodeResponse(plain);
  const line = (label: string, us: number): string => `${label.padEnd(44)} ${us.toFixed(2)} µs CPU`;
  return [
    `_ping answer: ${bytes.length} bytes`,
    line(
      'encode, plain entry views',
      cpuMicros(() => encodeResponse(plain)),
    ),
    line(
      'encode, constant entry views (as served)',
      cpuMicros(() => encodeResponse(constant)),
    ),
    line(
      'decode',
      cpuMicros(() => decodeResponse(bytes)),
    ),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const line of benchCodec()) console.log(line);
}
