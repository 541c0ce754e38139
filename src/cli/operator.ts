/**
 * `eps operator init NAME --dir DIR [--network dev]`: a new operator's settings folder, keys, certificate
 * requests (signed at once on the dev network) and the records for the directory's administrator
 * (src/operator/, docs/first-hour.md).
 */
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { initOperator, type OperatorInitResult } from '../operator/init.js';
import { OPERATOR_DEFAULTS, OperatorInitError, type OperatorInitOptions } from '../operator/options.js';
import { CliError } from './common.js';

interface InitFlags {
  dir: string;
  network: string;
  networkDir?: string;
  sdEndpoint?: string[];
  sdName?: string[];
  caFile?: string;
  intermediateFile?: string;
  grpc: string;
  advertise?: string;
  gateway: string;
  metrics: string;
  backend: string;
  group: string;
  proxy?: string[];
  dataDir?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function report(r: OperatorInitResult, o: OperatorInitOptions): string {
  const rel = (p: string): string => relative(process.cwd(), p) || '.';
  const lines = [
    `operator ${o.name}: settings in ${rel(r.dir)}`,
    ...r.written.map((f) => `  wrote ${f}`),
    ...r.kept.map((f) => `  kept  ${f}`),
    '',
    'next:',
  ];
  if (!r.certified) {
    const certs = rel(join(r.dir, 'certs'));
    lines.push(
      `  - send ${certs}/${o.name}.csr and ${o.name}-sign.csr to the ${o.network} network's CA; put the`,
      `    certificates it returns in ${certs}/${o.name}.crt and ${o.name}-sign.crt (chain files) and`,
      `    run this command again: it adds their fingerprints to the records`,
    );
  }
  lines.push(
    `  - hand ${rel(r.recordsFile)} to the directory's administrator, who submits it:`,
    `      EPS_SETTINGS=<admin settings> eps sd submit-records ${rel(r.recordsFile)}`,
    `  - check and start the node: EPS_SETTINGS=${rel(r.dir)} eps settings check; EPS_SETTINGS=${rel(r.dir)} eps server run`,
  );
  return lines.join('\n') + '\n';
}

export function registerOperatorCommands(program: Command): void {
  const operator = program.command('operator').description("a new operator's settings, keys and records");
  operator
    .command('init')
    .description('write the settings folder of a new operator: settings, keys, certificate requests, records')
    .argument('<name>', 'the operator name (directory entry and certificate CN), e.g. hd-3')
    .requiredOption('--dir <dir>', 'the settings folder to write (EPS_SETTINGS of the new node)')
    .option('--network <network>', "'dev' (signed by the dev CA at once) or another network's name", 'dev')
    .option('--network-dir <dir>', 'dev: the folder holding settings/dev (default: the package)')
    .option('--sd-endpoint <url>', 'other networks: the service directory URL (repeatable)', collect)
    .option('--sd-name <name>', "other networks: the service directory's TLS name (repeatable)", collect)
    .option('--ca-file <file>', "other networks: the CA's root certificate")
    .option('--intermediate-file <file>', "other networks: the CA's intermediate certificate")
    .option('--grpc <host:port>', 'gRPC server listen address', OPERATOR_DEFAULTS.grpc)
    .option('--advertise <host:port>', 'gRPC address peers dial (default: --grpc)')
    .option('--gateway <host:port>', 'JSON-RPC gateway listen address', OPERATOR_DEFAULTS.gateway)
    .option('--metrics <host:port>', 'metrics/health listen address', OPERATOR_DEFAULTS.metrics)
    .option('--backend <url>', 'where requests for this operator go', OPERATOR_DEFAULTS.backend)
    .option('--group <group>', 'the directory group to join', OPERATOR_DEFAULTS.group)
    .option('--proxy <name>', 'a public proxy the operator is reached through (repeatable)', collect)
    .option('--data-dir <dir>', 'folder of the state files (default: DIR/data)')
    .action(async (name: string, flags: InitFlags) => {
      const options: OperatorInitOptions = {
        name,
        dir: flags.dir,
        network: flags.network,
        networkDir: flags.networkDir,
        sdEndpoints: flags.sdEndpoint,
        sdNames: flags.sdName,
        caFile: flags.caFile,
        intermediateFile: flags.intermediateFile,
        grpc: flags.grpc,
        advertise: flags.advertise,
        gateway: flags.gateway,
        metrics: flags.metrics,
        backend: flags.backend,
        group: flags.group,
        proxies: flags.proxy ?? [],
        dataDir: flags.dataDir,
      };
      try {
        process.stdout.write(report(await initOperator(options), options));
      } catch (e) {
        if (e instanceof OperatorInitError) throw new CliError(e.message);
        throw e;
      }
    });
}
