/**
 * Every error class of src has a stable `code` (core/errors.ts): a string `ERR_<LAYER>_<WHAT>` with its
 * layer's prefix, or a number from the wire for the classes core/errors.ts lists. The table below must name
 * every class that src declares as `class X extends ...Error`, so a new error class without a code (or
 * missing here) fails this test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidAddressError } from '../../src/core/address.js';
import { CallCancelledError, DeadlineExceededError } from '../../src/core/cancellation.js';
import { HpackError } from '../../src/grpc/h2/hpack.js';
import { HuffmanError } from '../../src/grpc/h2/huffman.js';
import { ConnectionError, ProtocolError, StreamError } from '../../src/grpc/h2/errors.js';
import { ErrorCode } from '../../src/grpc/h2/codes.js';
import { CodecError } from '../../src/grpc/codec.js';
import { DialError } from '../../src/grpc/dial.js';
import { GrpcError, Status } from '../../src/grpc/status.js';
import { FileStoreError } from '../../src/datastore/file-store.js';
import { EntryFormatError } from '../../src/datastore/entry-codec.js';
import { FileLockError } from '../../src/datastore/file-lock.js';
import { RedisStoreError } from '../../src/datastore/redis-store.js';
import { ListenError } from '../../src/net/listen.js';
import { RateLimitConfigError } from '../../src/net/rate-limit.js';
import { MethodError } from '../../src/jsonrpc/dispatcher.js';
import { JsonRpcClientError } from '../../src/jsonrpc/client.js';
import { ErrorCodes } from '../../src/core/messages.js';
import { SdStartError } from '../../src/sd/server.js';
import { StaleAppendError, StoreUnavailableError, SubmitError } from '../../src/sd/errors.js';
import { PromptUnavailableError } from '../../src/settings/prompt.js';
import { SettingsError } from '../../src/settings/errors.js';
import { InternalMethodError } from '../../src/broker/internal-methods.js';
import { BrokerError } from '../../src/broker/errors.js';
import { NoRouteError, PeerDisconnectedError } from '../../src/broker/channel-errors.js';
import { SetupError } from '../../src/cli/sd-setup-error.js';
import { CliError } from '../../src/cli/common.js';
import { CertsUsageError } from '../../src/cli/certs.js';
import { ApiDirectoryConfigError } from '../../src/directory/api-directory.js';
import { DirectoryLookupError } from '../../src/directory/directory.js';
import { DirectoryRefreshError, SdRpcError, SdUnreachableError } from '../../src/directory/api-errors.js';
import { MirrorStateError } from '../../src/directory/mirror-state.js';
import { JsonLinesError } from '../../src/datastore/json-lines-file.js';
import { AsyncError } from '../../src/async/errors.js';
import { JsonDirectoryError } from '../../src/directory/json-directory.js';
import { RecordError } from '../../src/records/errors.js';
import { RecordToolError } from '../../src/records-tools/errors.js';
import { ExpiresAtError } from '../../src/proxy/shared/expires-at.js';
import { ControlApiConfigError } from '../../src/proxy/shared/control-server.js';
import { AnnouncementTableFullError } from '../../src/proxy/shared/announcements.js';
import { EpsCallError } from '../../src/proxy/shared/eps-link.js';
import { AnnouncementStoreError } from '../../src/proxy/shared/announcement-store.js';
import { TokenError } from '../../src/proxy/shared/tokens.js';
import { BodyTooLargeError, UpstreamError } from '../../src/proxy/private/http-forwarding.js';
import { ProxyDialError } from '../../src/proxy/private/dial.js';
import { TlsConfigError } from '../../src/tls/options.js';
import { PeerRefusedError } from '../../src/tls/pinned-peer.js';
import { CertificateGenerationError } from '../../src/tls/certgen-verify.js';
import { PemCertificateError } from '../../src/tls/fingerprint.js';
import { ClientHelloError } from '../../src/tls/client-hello.js';
import { BrokeringError } from '../../src/channels/p2p/proxy-choice.js';
import { WaitLimitError } from '../../src/channels/safe-retry.js';
import { PeerUnreachable, Unverifiable } from '../../src/transparency/peer-check.js';
import { TipError } from '../../src/transparency/tip.js';
import { DemoWorkspaceError } from '../../src/demo/workspace.js';
import { OperatorInitError } from '../../src/operator/options.js';

/**
 * What `code` an error class carries: `ERR_<LAYER>_<WHAT>` with the layer's prefix; a wire number (the
 * classes core/errors.ts lists); or a string code of the older styles (`'expired'`, `SETTINGS_INVALID`,
 * `ERR_NO_ROUTE`), which other code, logs and the SD's answers already use (renaming them is a change of
 * its own).
 */
type Expected = { prefix: string } | 'wire-number' | 'older-string';

interface Case {
  cls: abstract new (...args: never[]) => Error;
  make: () => Error;
  expected: Expected;
}

const cause = new Error('cause');

const CASES: Case[] = [
  { cls: InvalidAddressError, make: () => new InvalidAddressError(), expected: { prefix: 'ERR_CORE_' } },
  {
    cls: DeadlineExceededError,
    make: () => new DeadlineExceededError('the gateway of hd-1'),
    expected: { prefix: 'ERR_CORE_' },
  },
  { cls: CallCancelledError, make: () => new CallCancelledError('m'), expected: { prefix: 'ERR_CORE_' } },
  { cls: HpackError, make: () => new HpackError('m'), expected: { prefix: 'ERR_H2_' } },
  { cls: HuffmanError, make: () => new HuffmanError('m'), expected: { prefix: 'ERR_H2_' } },
  { cls: ProtocolError, make: () => new ProtocolError('m'), expected: { prefix: 'ERR_H2_' } },
  {
    cls: ConnectionError,
    make: () => new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'm'),
    expected: 'wire-number',
  },
  { cls: StreamError, make: () => new StreamError(ErrorCode.CANCEL, 'm'), expected: 'wire-number' },
  { cls: CodecError, make: () => new CodecError('m'), expected: { prefix: 'ERR_GRPC_' } },
  { cls: DialError, make: () => new DialError('ERR_DIAL_TIMEOUT', 'm'), expected: { prefix: 'ERR_DIAL_' } },
  { cls: GrpcError, make: () => new GrpcError(Status.INTERNAL, 'm'), expected: 'wire-number' },
  { cls: FileStoreError, make: () => new FileStoreError('m'), expected: { prefix: 'ERR_DATASTORE_' } },
  { cls: EntryFormatError, make: () => new EntryFormatError('m'), expected: { prefix: 'ERR_DATASTORE_' } },
  { cls: FileLockError, make: () => new FileLockError('m'), expected: { prefix: 'ERR_DATASTORE_' } },
  { cls: RedisStoreError, make: () => new RedisStoreError('m'), expected: { prefix: 'ERR_DATASTORE_' } },
  { cls: ListenError, make: () => new ListenError('a:1', { cause }), expected: { prefix: 'ERR_NET_' } },
  { cls: RateLimitConfigError, make: () => new RateLimitConfigError('m'), expected: { prefix: 'ERR_NET_' } },
  { cls: MethodError, make: () => new MethodError(ErrorCodes.internal, 'm'), expected: 'wire-number' },
  {
    cls: JsonRpcClientError,
    make: () => new JsonRpcClientError('ERR_JSONRPC_TIMEOUT', 'm'),
    expected: { prefix: 'ERR_JSONRPC_' },
  },
  { cls: SdStartError, make: () => new SdStartError('m'), expected: { prefix: 'ERR_SD_' } },
  {
    cls: SubmitError,
    make: () => new SubmitError(0, 'ab'.repeat(32), 'replayed', 'm'),
    expected: 'wire-number',
  },
  { cls: StaleAppendError, make: () => new StaleAppendError(), expected: 'wire-number' },
  { cls: StoreUnavailableError, make: () => new StoreUnavailableError(cause), expected: 'wire-number' },
  {
    cls: PromptUnavailableError,
    make: () => new PromptUnavailableError(),
    expected: { prefix: 'ERR_SETTINGS_' },
  },
  { cls: SettingsError, make: () => new SettingsError({ message: 'm' }), expected: 'older-string' },
  { cls: InternalMethodError, make: () => new InternalMethodError('m'), expected: { prefix: 'ERR_BROKER_' } },
  {
    cls: BrokerError,
    make: () => new BrokerError('ERR_INVALID_ID', 'm'),
    expected: 'older-string',
  },
  { cls: NoRouteError, make: () => new NoRouteError('m'), expected: 'older-string' },
  { cls: BrokeringError, make: () => new BrokeringError('p', []), expected: { prefix: 'ERR_P2P_' } },
  {
    cls: WaitLimitError,
    make: () => new WaitLimitError('p', 'full', new Error('m')),
    expected: { prefix: 'ERR_PEER_' },
  },
  { cls: Unverifiable, make: () => new Unverifiable('m'), expected: { prefix: 'ERR_TRANSPARENCY_' } },
  { cls: PeerUnreachable, make: () => new PeerUnreachable('m'), expected: { prefix: 'ERR_TRANSPARENCY_' } },
  { cls: TipError, make: () => new TipError('m'), expected: { prefix: 'ERR_TRANSPARENCY_' } },
  { cls: DemoWorkspaceError, make: () => new DemoWorkspaceError('m'), expected: { prefix: 'ERR_DEMO_' } },
  { cls: OperatorInitError, make: () => new OperatorInitError('m'), expected: { prefix: 'ERR_OPERATOR_' } },
  { cls: PeerDisconnectedError, make: () => new PeerDisconnectedError(), expected: 'older-string' },
  { cls: SetupError, make: () => new SetupError('m'), expected: { prefix: 'ERR_CLI_' } },
  { cls: CliError, make: () => new CliError('m'), expected: { prefix: 'ERR_CLI_' } },
  { cls: CertsUsageError, make: () => new CertsUsageError('m'), expected: { prefix: 'ERR_CLI_' } },
  {
    cls: ApiDirectoryConfigError,
    make: () => new ApiDirectoryConfigError('m'),
    expected: { prefix: 'ERR_DIRECTORY_' },
  },
  {
    cls: DirectoryLookupError,
    make: () => new DirectoryLookupError(),
    expected: { prefix: 'ERR_DIRECTORY_' },
  },
  {
    cls: DirectoryRefreshError,
    make: () => new DirectoryRefreshError('fork', 'm'),
    expected: 'older-string',
  },
  {
    cls: SdUnreachableError,
    make: () => new SdUnreachableError([{ endpoint: 'a:1', reason: 'm' }]),
    expected: 'older-string',
  },
  { cls: SdRpcError, make: () => new SdRpcError('m', -32603, 'm', undefined), expected: 'wire-number' },
  { cls: MirrorStateError, make: () => new MirrorStateError('m'), expected: { prefix: 'ERR_DIRECTORY_' } },
  { cls: JsonLinesError, make: () => new JsonLinesError('m'), expected: { prefix: 'ERR_DATASTORE_' } },
  { cls: AsyncError, make: () => new AsyncError('ERR_ASYNC_FULL', 'm'), expected: { prefix: 'ERR_ASYNC_' } },
  {
    cls: JsonDirectoryError,
    make: () => new JsonDirectoryError('m'),
    expected: { prefix: 'ERR_DIRECTORY_' },
  },
  { cls: RecordError, make: () => new RecordError('hash', 'm'), expected: 'older-string' },
  {
    cls: RecordToolError,
    make: () => new RecordToolError('input', 'm'),
    expected: 'older-string',
  },
  { cls: ExpiresAtError, make: () => new ExpiresAtError('m'), expected: { prefix: 'ERR_PROXY_' } },
  {
    cls: ControlApiConfigError,
    make: () => new ControlApiConfigError('m'),
    expected: { prefix: 'ERR_PROXY_' },
  },
  {
    cls: AnnouncementTableFullError,
    make: () => new AnnouncementTableFullError(1),
    expected: { prefix: 'ERR_PROXY_' },
  },
  { cls: EpsCallError, make: () => new EpsCallError('m', { cause }), expected: { prefix: 'ERR_PROXY_' } },
  {
    cls: AnnouncementStoreError,
    make: () => new AnnouncementStoreError('m'),
    expected: { prefix: 'ERR_PROXY_' },
  },
  { cls: TokenError, make: () => new TokenError('expired', 'm'), expected: 'older-string' },
  { cls: BodyTooLargeError, make: () => new BodyTooLargeError(1), expected: { prefix: 'ERR_PROXY_' } },
  { cls: UpstreamError, make: () => new UpstreamError('m'), expected: { prefix: 'ERR_PROXY_' } },
  {
    cls: ProxyDialError,
    make: () => new ProxyDialError('ERR_PROXY_DIAL_TIMEOUT', 'a:1', 'm'),
    expected: { prefix: 'ERR_PROXY_' },
  },
  // The tls layer's prefix is ERR_CERT_: outcome.ts reads a code starting with ERR_TLS_ as Node's TLS failure.
  { cls: TlsConfigError, make: () => new TlsConfigError('m'), expected: { prefix: 'ERR_CERT_' } },
  {
    cls: PeerRefusedError,
    make: () => new PeerRefusedError('ERR_CERT_PEER_NOT_PINNED', 'ls-1', 'm'),
    expected: { prefix: 'ERR_CERT_' },
  },
  {
    cls: CertificateGenerationError,
    make: () => new CertificateGenerationError('m'),
    expected: { prefix: 'ERR_CERT_' },
  },
  { cls: PemCertificateError, make: () => new PemCertificateError('m'), expected: { prefix: 'ERR_CERT_' } },
  {
    cls: ClientHelloError,
    make: () => new ClientHelloError('timeout', 'm'),
    expected: 'older-string',
  },
];

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const ERROR_CLASS = /\bclass\s+(\w+)\s+extends\s+(\w*Error)\b/g;

/** The .ts files under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `class X extends ...Error` declarations of src, as class name → file. */
function errorClassesOfSrc(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of sourceFiles(SRC)) {
    for (const match of readFileSync(file, 'utf8').matchAll(ERROR_CLASS)) found.set(match[1]!, file);
  }
  return found;
}

test('the table covers every error class declared in src', () => {
  const declared = errorClassesOfSrc();
  assert.ok(declared.size >= CASES.length, `only ${declared.size} error classes found in ${SRC}`);
  const covered = new Set(CASES.map((c) => c.cls.name));
  const missing = [...declared.keys()].filter((name) => !covered.has(name));
  assert.deepEqual(missing, [], 'error classes without an entry here (give them a code, then add them)');
  const gone = [...covered].filter((name) => !declared.has(name));
  assert.deepEqual(gone, [], 'entries here for classes src no longer declares');
});

test('every error class carries a stable code of its layer', () => {
  for (const { cls, make, expected } of CASES) {
    const error = make();
    assert.ok(error instanceof cls, `${cls.name}: the factory builds another class`);
    const { code } = error as Error & { code?: unknown };
    if (expected === 'wire-number') {
      assert.equal(typeof code, 'number', `${cls.name}: a wire-number code`);
      continue;
    }
    assert.equal(typeof code, 'string', `${cls.name}: a string code`);
    assert.notEqual(code, '', `${cls.name}: an empty code`);
    if (expected === 'older-string') continue;
    assert.match(code as string, /^ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/, `${cls.name}: code ${String(code)}`);
    assert.ok(
      (code as string).startsWith(expected.prefix),
      `${cls.name}: ${String(code)} lacks ${expected.prefix}`,
    );
  }
});
