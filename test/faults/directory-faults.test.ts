/** Short fault scenarios around the service directory and a silent peer (test/faults/suite.ts). */
import { faultSuite } from './suite.js';

/**
 * hd-1's gRPC connect timeout (the dev settings' default: 10 s). A call to the silent peer ends after two
 * connect timeouts (channels/safe-retry.ts): 8 s instead of 20 s, and what is asserted, that it ends and
 * the load does not notice, is the same. Far above a connection's set-up on 127.0.0.1 under load.
 */
const CONNECT_TIMEOUT_S = 4;

faultSuite('directory and silent-peer faults, short', ['sd-down', 'node-restart-sd-down', 'silent-peer'], {
  connectTimeout: CONNECT_TIMEOUT_S,
});
