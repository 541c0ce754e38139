// Short fuzz pass over the kept corpus of the jsonrpc target plus a few seconds of new inputs (ci-pass.ts).
import { fuzzCiPass } from './ci-pass.js';

fuzzCiPass('jsonrpc');
