#!/usr/bin/env -S node --max-semi-space-size=1 --no-opt
// Entry point; the program itself is compiled from src/ into dist/ by `npm run build`.
// The V8 flags keep a supervisor of 100 tunnels under 60 MB (bench/RESULTS.md): a 1 MB young
// generation instead of one that grows to 16 MB during a burst of handshakes and stays, and
// no optimizing compiler, whose code a mostly idle process does not need. They only work on
// the command line (v8.setFlagsFromString is too late for the heap sizes), hence the shebang;
// `node bin/autotunnel.js` runs without them.

// Signals first, before anything is imported or parsed (a static import would run first):
// SIGUSR1 and SIGHUP are documented, so they may come at any moment. Without a listener, Node
// opens its inspector on SIGUSR1 (code execution inside a process that holds the private key)
// and SIGHUP kills the process. These listeners stay for the whole run; the running commands
// add their own (SIGUSR1 retries, SIGHUP reloads). Node >= 22.14 with --disable-sigusr1 (as
// the container image runs it) never starts the inspector on SIGUSR1 at all.
const ignore = () => {};
process.on('SIGUSR1', ignore);
process.on('SIGHUP', ignore);

// Older Node: a SIGUSR1 that came during Node's own start-up, before the listener above, may
// have opened the inspector. Close it unless it was asked for with --inspect.
const inspector = await import('node:inspector');
const closeStrayInspector = () => {
  if (inspector.url() && !process.execArgv.some((a) => a.startsWith('--inspect'))) inspector.close();
};
closeStrayInspector();
// The inspector starts on a thread of its own, so it may come up a moment after a check: look
// again for the first two seconds (not needed with --disable-sigusr1).
if (!process.execArgv.includes('--disable-sigusr1')) {
  const again = setInterval(closeStrayInspector, 20);
  again.unref();
  setTimeout(() => clearInterval(again), 2_000).unref();
}

const { cli } = await import('../dist/cli/main.js');
closeStrayInspector();
await cli(process.argv.slice(2));
