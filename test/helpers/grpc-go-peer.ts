/**
 * The grpc-go peer (test/interop/grpc-go): a gRPC server and client with the original's grpc-go stack and
 * options, built with Debian's golang-go and golang-google-grpc-dev (.ci/run installs them). Tests that
 * need it skip with `grpcGoSkip` when `go` or the grpc-go sources are missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';

const GOPATH = '/usr/share/gocode';
const haveGo =
  spawnSync('go', ['version']).status === 0 &&
  spawnSync('test', ['-d', join(GOPATH, 'src/google.golang.org/grpc')]).status === 0;

export const grpcGoSkip: false | string = haveGo
  ? false
  : 'needs go and grpc-go sources (Debian: golang-go golang-google-grpc-dev)';

/**
 * Builds the peer into `dir` (GOPATH mode, no network); returns the binary. The build cache is shared by
 * every run on this machine (go locks it; it trims what was not used for days): a second build takes a
 * second instead of half a minute.
 */
export function buildGrpcGoPeer(dir: string): string {
  const binary = join(dir, 'grpc-go-peer');
  const build = spawnSync('go', ['build', '-o', binary, './test/interop/grpc-go'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      GOPATH,
      GO111MODULE: 'off',
      GOFLAGS: '',
      GOCACHE: join(tmpdir(), 'eps-grpc-go-cache'),
    },
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, `go build failed:\n${build.stderr}`);
  return binary;
}
