/** The fuzz targets by name (`npm run fuzz -- <name>`). Import only after startCoverage(). */
import type { FuzzTarget } from '../engine/types.js';
import { clientHelloTarget } from './client-hello.js';
import { h2FramesTarget } from './h2-frames.js';
import { hpackTarget } from './hpack.js';
import { jsonRpcTarget } from './jsonrpc.js';
import { recordsTarget } from './records.js';

export const TARGETS: readonly FuzzTarget[] = [
  h2FramesTarget,
  hpackTarget,
  clientHelloTarget,
  jsonRpcTarget,
  recordsTarget,
];
