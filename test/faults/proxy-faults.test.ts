/** Short fault scenarios around the public proxy and the callee (test/faults/suite.ts). */
import { faultSuite } from './suite.js';

faultSuite('proxy and peer faults, short', [
  'proxy-sigterm',
  'proxy-sigkill',
  'peer-restart',
  'proxy-eps-kill',
  'two-proxies-sigterm',
  'two-proxies-sigkill',
]);
