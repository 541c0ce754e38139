/**
 * `eps sd verify-proof` and `eps sd audit` [docs/operations.md#proofs]: checking the directory's Merkle
 * proofs offline, and comparing the tips of several sds or eps gateways.
 */
import type { Command } from 'commander';
import { audit, formatAudit, parseAuditTarget } from '../records-tools/audit.js';
import { RecordToolError } from '../records-tools/errors.js';
import { requireApiDirectory } from '../records-tools/submit.js';
import { verifyProofArguments } from '../records-tools/verify-proof.js';
import { loadEpsSettings } from '../settings/index.js';
import { CliError } from './common.js';

/** Exit code of `audit` when a party could not be asked (inconsistency: 1). */
export const AUDIT_UNREACHABLE_EXIT = 2;

function tool<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof RecordToolError) throw new CliError(err.message);
    throw err;
  }
}

export function registerProofCommands(sd: Command): void {
  sd.command('verify-proof')
    .description(
      'verify an inclusion proof against a tip, or a consistency proof against two tips (offline; exit 0 valid, 1 not)',
    )
    .argument('[proof]', 'proof file or inline JSON')
    .argument('[tips...]', 'tip files or inline JSON {size, head, root}: one, or two (the smaller first)')
    .option('--record <file>', 'for an inclusion proof: the signed record it must be about (file or JSON)')
    .action((proof: string | undefined, tips: string[], opts: { record?: string }) => {
      if (proof === undefined) throw new CliError('please specify a proof');
      const result = tool(() => verifyProofArguments(proof, tips, opts.record));
      if (!result.check.ok) throw new CliError(`Proof is not valid! ${result.check.reason}`);
      process.stdout.write(`Proof is valid: ${result.summary}\n`);
    });

  sd.command('audit')
    .description(
      'compare the tips of sds (URL) and eps gateways (URL#OPERATOR) with consistency proofs (exit 1: inconsistent)',
    )
    .argument('[urls...]', 'JSON-RPC URLs of sds, or of eps gateways followed by #OPERATOR')
    .option('--server-name <name>', 'TLS server name of the sds (default: the api directory setting)')
    .option(
      '--gateway-name <name>',
      'TLS server name of the eps gateways (default: the operator `name` of the settings)',
    )
    .action(async (urls: string[], opts: { serverName?: string; gatewayName?: string }) => {
      const targets = tool(() => urls.map(parseAuditTarget));
      const settings = await loadEpsSettings();
      const directory = tool(() => requireApiDirectory(settings, 'the TLS settings of an audit come from'));
      const report = await audit(targets, directory, {
        sd: opts.serverName,
        gateway: opts.gatewayName ?? settings.name,
      }).catch((err: unknown) => {
        if (err instanceof RecordToolError) throw new CliError(err.message);
        throw err;
      });
      process.stdout.write(formatAudit(report));
      if (report.pairs.some((p) => !p.check.ok)) {
        throw new CliError('the parties are not consistent: at least one chain is not a prefix of another');
      }
      if (report.tips.some((t) => !t.tip)) {
        throw new CliError('not every party answered', AUDIT_UNREACHABLE_EXIT);
      }
    });
}
