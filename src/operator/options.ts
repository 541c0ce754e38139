/**
 * What `eps operator init` is asked for, its defaults and their checks: the operator's name, the settings
 * folder, the network to join and the addresses of the node's listeners and backend.
 */
import { CodedError } from '../core/errors.js';

export class OperatorInitError extends CodedError<'ERR_OPERATOR_INIT'> {
  constructor(message: string) {
    super('ERR_OPERATOR_INIT', message);
  }
}

export interface OperatorInitOptions {
  /** The operator's name in the directory and in its certificates' CN (e.g. `hd-3`). */
  name: string;
  /** The settings folder to write (EPS_SETTINGS of the new node). */
  dir: string;
  /** `dev` (the dev network, signed at once) or the name of another network (requests only). */
  network: string;
  /** dev: the folder holding settings/dev (default: the package). */
  networkDir?: string | undefined;
  /** Other networks: the service directory's endpoints, server names and CA certificates. */
  sdEndpoints?: string[] | undefined;
  sdNames?: string[] | undefined;
  caFile?: string | undefined;
  intermediateFile?: string | undefined;
  /** Listen address of the gRPC server. */
  grpc: string;
  /** The gRPC address others dial, written into the channels record (default: `grpc`). */
  advertise?: string | undefined;
  /** Listen address of the JSON-RPC gateway for local applications. */
  gateway: string;
  /** Listen address of /metrics, /healthz and /readyz. */
  metrics: string;
  /** Where requests addressed to this operator are delivered. */
  backend: string;
  /** The directory group the operator joins. */
  group: string;
  /** Public proxies the operator is reached through (none: peers dial `advertise` directly). */
  proxies: string[];
  /** Folder of the node's state files (default: DIR/data). */
  dataDir?: string | undefined;
  /** Reference time of certificates and records (tests). */
  now?: Date;
}

export const OPERATOR_DEFAULTS = {
  network: 'dev',
  grpc: 'localhost:4444',
  gateway: 'localhost:5555',
  metrics: 'localhost:2112',
  backend: 'http://localhost:5558/jsonrpc',
  group: 'health-departments',
} as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const HOST_PORT = /^[^\s:'"$]+:\d{1,5}$/;
const SAFE_TEXT = /^[^\s'"$]+$/;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+):/i;

function check(ok: boolean, message: string): void {
  if (!ok) throw new OperatorInitError(message);
}

/** Refuses what would give broken settings, records or certificate names. */
export function checkOperatorOptions(o: OperatorInitOptions): void {
  check(NAME.test(o.name), `invalid operator name '${o.name}' (letters, digits, '.', '-'; at most 63)`);
  for (const [flag, value] of [
    ['--grpc', o.grpc],
    ['--gateway', o.gateway],
    ['--metrics', o.metrics],
    ['--advertise', o.advertise ?? o.grpc],
  ] as const) {
    check(HOST_PORT.test(value), `${flag} must be HOST:PORT, not '${value}'`);
  }
  check(/^https?:\/\/\S+$/.test(o.backend) && SAFE_TEXT.test(o.backend), `--backend must be an http(s) URL`);
  check(NAME.test(o.group), `invalid group name '${o.group}'`);
  for (const proxy of o.proxies) check(NAME.test(proxy), `invalid proxy name '${proxy}'`);
  if (o.network !== 'dev') {
    check((o.sdEndpoints ?? []).length > 0, `network '${o.network}': --sd-endpoint is required`);
    check((o.sdNames ?? []).length > 0, `network '${o.network}': --sd-name is required`);
    check(o.caFile !== undefined, `network '${o.network}': --ca-file is required`);
    for (const url of o.sdEndpoints ?? []) check(SAFE_TEXT.test(url), `invalid --sd-endpoint '${url}'`);
    for (const sd of o.sdNames ?? []) check(NAME.test(sd), `invalid --sd-name '${sd}'`);
    // The channels record tells other operators' nodes where to dial: a loopback address is theirs.
    const advertised = o.advertise ?? o.grpc;
    check(
      o.proxies.length > 0 || !LOOPBACK.test(advertised),
      `network '${o.network}': other operators cannot dial ${advertised}; give --advertise HOST:PORT ` +
        `(the address they reach, with --grpc listening on it, e.g. --grpc 0.0.0.0:4444) or --proxy NAME`,
    );
  }
}
