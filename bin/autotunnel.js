#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt
// Entry point; the program itself is compiled from src/ into dist/ by `npm run build`.
// The V8 flags keep a supervisor of 100 tunnels under 60 MB (bench/RESULTS.md): a 1 MB young
// generation instead of one that grows to 16 MB during a burst of handshakes and stays, and
// no optimizing compiler, whose code a mostly idle process does not need. They only work on
// the command line (v8.setFlagsFromString is too late for the heap sizes), hence the shebang;
// `node bin/autotunnel.js` runs without them.
import { cli } from '../dist/cli/main.js';

await cli(process.argv.slice(2));
