// The dependency rules of src/ and bench/, checked by `npm run deps` (part of `npm test`), drawn in
// ARCHITECTURE.md.
// test/unit/dependency-rules.test.ts runs these same rules on a small tree that breaks each of them.
import { fileURLToPath } from 'node:url';

/**
 * The folders of src/, from the top layer down. A folder imports only folders of lower layers; folders in
 * the same layer do not import each other. A folder not listed here is an error (add it to a layer): its
 * files are either imported (unlisted-folder) or orphans (no-orphan).
 */
export const layers = [
  ['cli', 'demo'],
  ['eps', 'sd', 'proxy', 'records-tools', 'settings-check', 'operator'],
  ['transparency'],
  ['channels'],
  ['broker'],
  ['async'],
  ['directory'],
  ['records', 'grpc', 'jsonrpc', 'datastore', 'metrics'],
  ['tls', 'net'],
  ['settings'],
  ['core'],
];

const listed = layers.flat();
const anyOf = (folders) => `^src/(${folders.join('|')})/`;

/** One rule per folder: every listed folder that is not the folder itself or below it is forbidden. */
const layerRules = layers.flatMap((layer, index) => {
  const below = layers.slice(index + 1).flat();
  return layer.map((folder) => ({
    name: `layer-${folder}`,
    comment: `src/${folder}/ may import only ${below.length ? below.join(', ') : 'nothing else in src/'}`,
    severity: 'error',
    from: { path: `^src/${folder}/` },
    to: { path: anyOf(listed), pathNot: anyOf([folder, ...below]) },
  }));
});

/** Folders inside a layer folder that must stay apart. */
const innerRules = [
  {
    name: 'proxy-public-not-private',
    comment: 'the public proxy and the private proxy share only src/proxy/shared/',
    severity: 'error',
    from: { path: '^src/proxy/public/' },
    to: { path: '^src/proxy/private/' },
  },
  {
    name: 'proxy-private-not-public',
    comment: 'the public proxy and the private proxy share only src/proxy/shared/',
    severity: 'error',
    from: { path: '^src/proxy/private/' },
    to: { path: '^src/proxy/public/' },
  },
  {
    name: 'proxy-shared-below-both',
    comment: 'src/proxy/shared/ is used by both proxies and imports neither',
    severity: 'error',
    from: { path: '^src/proxy/shared/' },
    to: { path: '^src/proxy/(public|private)/' },
  },
  {
    name: 'h2-below-grpc',
    comment: 'src/grpc/h2/ (HTTP/2) knows nothing of gRPC',
    severity: 'error',
    from: { path: '^src/grpc/h2/' },
    to: { path: '^src/grpc/', pathNot: '^src/grpc/h2/' },
  },
];

export default {
  forbidden: [
    ...layerRules,
    ...innerRules,
    {
      name: 'unlisted-folder',
      comment: `every file of src/ lives in one of the folders in .dependency-cruiser.mjs's layers`,
      severity: 'error',
      from: {},
      to: { path: '^src/', pathNot: anyOf(listed) },
    },
    {
      name: 'src-not-tests',
      comment: 'src/ never imports tests, benchmarks, examples or scripts (they import src/)',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|examples|scripts)/' },
    },
    {
      name: 'bench-uses-test-helpers-only',
      comment: 'bench/ imports src/ and test/helpers/, never the tests themselves',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^test/', pathNot: '^test/helpers/' },
    },
    {
      name: 'no-file-cycle',
      comment: 'no import cycle between files',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      comment: 'no import cycle between folders, at any depth (a folder counts with its subfolders)',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphan',
      comment: 'a file of src/ that nothing imports is dead code, or an entry point not listed here',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: '^src/(cli|demo)/[^/]+\\.ts$' },
      to: {},
    },
    {
      name: 'no-unresolvable',
      comment: 'every import resolves to a file or an installed package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'src-not-dev-dependencies',
      comment: 'the programs run without devDependencies installed',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-check)/' },
    // Type-only imports count: a type from a higher layer couples the layers as much as a value.
    tsPreCompilationDeps: true,
    // Absolute, so that the rules test can cruise its fixture tree from another directory.
    tsConfig: { fileName: fileURLToPath(new URL('tsconfig.json', import.meta.url)) },
  },
};
