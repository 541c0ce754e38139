/** Short fault scenarios around the service directory and a silent peer (test/faults/suite.ts). */
import { faultSuite } from './suite.js';

faultSuite('directory and silent-peer faults, short', ['sd-down', 'node-restart-sd-down', 'silent-peer']);
