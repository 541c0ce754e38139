/**
 * Short fault scenarios around the public proxy and the callee (test/faults/suite.ts). 1 s of load after
 * each restart, not 2: what is asserted is about the calls that cross the fault (which fail, which wait for
 * the return), and the driver then waits, bounded, for a call to succeed again in any case.
 */
import { faultSuite } from './suite.js';

/** Seconds of load after each fault. */
const LOAD_AFTER_FAULT_S = 1;

faultSuite(
  'proxy and peer faults, short',
  [
    'proxy-sigterm',
    'proxy-sigkill',
    'peer-restart',
    'proxy-eps-kill',
    'two-proxies-sigterm',
    'two-proxies-sigkill',
  ],
  { seconds: LOAD_AFTER_FAULT_S },
);
