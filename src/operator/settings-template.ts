/**
 * The settings file of a new operator (`DIR/001_default.yml`), shaped like the dev roles: the directory of
 * the network, record signing, and the four channels — JSON-RPC backend, gRPC server, gRPC client and the
 * JSON-RPC gateway — all with the operator's certificates under `DIR/certs`.
 */
import { join, resolve } from 'node:path';
import type { OperatorInitOptions } from './options.js';

/** Where the directory of the network is served and which CA files the node trusts. */
export interface NetworkSettings {
  sdEndpoints: readonly string[];
  sdNames: readonly string[];
  /** Whether `certs/intermediate.crt` exists (the dev network has one). */
  intermediate: boolean;
}

/** A single-quoted YAML scalar (values with `$` are checked out in options.ts, or escaped as `$$`). */
function q(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function list(items: readonly string[]): string {
  return `[${items.map(q).join(', ')}]`;
}

export function operatorSettingsYaml(o: OperatorInitOptions, net: NetworkSettings): string {
  const cert = (file: string): string => q(`/$DIR/certs/${file}`);
  const stateFile =
    o.dataDir === undefined
      ? q(`/$DIR/data/${o.name}.directory.jsonl`)
      : q(join(resolve(o.dataDir), `${o.name}.directory.jsonl`).replace(/\$/g, '$$$$'));
  const intermediate = net.intermediate ? [`['/$DIR/certs/intermediate.crt']`] : [];
  const tls = (indent: string): string =>
    [
      `${indent}tls:`,
      `${indent}  ca_certificate_files: [${cert('root.crt')}]`,
      `${indent}  certificate_file: ${cert(`${o.name}.crt`)}`,
      `${indent}  key_file: ${cert(`${o.name}.key`)}`,
    ].join('\n');
  const lines = [
    `# ${o.name}: written by \`eps operator init\` for the ${o.network} network (EPS_SETTINGS=this folder).`,
    `# Gateway ${o.gateway} (HTTPS, client certificate required), gRPC ${o.grpc}, metrics ${o.metrics}.`,
    `# Requests addressed to ${o.name} go to the application backend ${o.backend}.`,
    `# Change what you like; \`eps settings check\` checks the result. Run init again and it keeps this file.`,
    `name: ${q(o.name)}`,
    'metrics:',
    `  bind_address: ${q(o.metrics)}`,
    `# The network's service directory; the last verified records are kept in state_file, so a restart`,
    `# while the directory is down routes at once.`,
    'directory:',
    '  type: api',
    '  settings:',
    `    endpoints: ${list(net.sdEndpoints)}`,
    `    server_names: ${list(net.sdNames)}`,
    '    jsonrpc_client:',
    tls('      '),
    `    ca_certificate_files: [${cert('root.crt')}]`,
    ...intermediate.map((files) => `    ca_intermediate_certificate_files: ${files}`),
    `    state_file: ${stateFile}`,
    `# Records this operator signs (its own changes, if the directory's administrator lets it).`,
    'signing:',
    `  certificate_file: ${cert(`${o.name}-sign.crt`)}`,
    `  key_file: ${cert(`${o.name}-sign.key`)}`,
    `  ca_certificate_file: ${cert('root.crt')}`,
    ...intermediate.map((files) => `  ca_intermediate_certificate_files: ${files}`),
    'channels:',
    '  - name: main JSON-RPC client',
    '    type: jsonrpc_client',
    '    settings:',
    `      endpoint: ${q(o.backend)}`,
    '  - name: main gRPC server',
    '    type: grpc_server',
    '    settings:',
    `      bind_address: ${q(o.grpc)}`,
    tls('      '),
    '  - name: main gRPC client',
    '    type: grpc_client',
    '    settings:',
    tls('      '),
    '  - name: main JSON-RPC server',
    '    type: jsonrpc_server',
    '    settings:',
    `      bind_address: ${q(o.gateway)}`,
    tls('      '),
  ];
  return lines.join('\n') + '\n';
}
