// Short fuzz pass over the kept corpus of the h2-frames target plus a few seconds of new inputs (ci-pass.ts).
import { fuzzCiPass } from './ci-pass.js';

fuzzCiPass('h2-frames');
