#!/usr/bin/env node
// The `rampart` command. In the repository, Node 24 runs the TypeScript sources directly (type
// stripping) and resolves the `rampart` library to its sources too (the `rampart-source`
// export condition); installed under node_modules, where Node does not strip types, it runs
// the JavaScript that `npm pack` built into dist/.
//
// First, the Node version: on an older Node the sources fail with errors that say nothing
// useful (a ".ts" extension on Node 20, a missing argon2 export on Node 22). This file must
// therefore stay plain JavaScript that any Node can parse, with no static import.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 24 || (major === 24 && minor < 7)) {
  process.stderr.write(
    `rampart: needs Node.js 24.7 or later; this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      'Inside the project, run it with the Node 24 that npm installs into node_modules:\n' +
      '  npm start                     the server (rampart serve)\n' +
      '  npx rampart <command>         any command, e.g. npx rampart keys list\n' +
      'Elsewhere, install Node.js 24 (https://nodejs.org) and run rampart with it.\n',
  );
  process.exit(1);
}
// Then, for `rampart serve`, the memory settings of a long-running server. Node reads them only
// at start (V8's heap sizing from its flags, glibc's malloc from the environment), so the
// process re-executes itself once with them: same pid, same stdio, the operator's own flags and
// variables kept and never overridden. RAMPART_MEMORY_TUNING=off starts as is. See
// docs/performance.md ("Memory of the process") for what each setting saves and costs.
//   --max-semi-space-size=8      V8's young generation at 2 × 8 MiB instead of growing to 2 × 32
//   --heap-growing-percent=50    the old generation is collected when it reaches 1.5 × what
//                                lived after the last collection, not up to 4 ×
//   MALLOC_ARENA_MAX=2           two malloc arenas, not eight per core for the threadpool
//   MALLOC_MMAP_THRESHOLD_=…     blocks of 1 MiB or more (argon2id's 19 MiB) go back to the
//                                system when freed instead of staying in an arena
const TUNING_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
const TUNING_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' };
if (
  process.argv[2] === 'serve' &&
  process.env.RAMPART_MEMORY_TUNING !== 'off' &&
  process.platform === 'linux' &&
  typeof process.execve === 'function'
) {
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  const flags = TUNING_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]));
  const env = Object.entries(TUNING_ENV).filter(([name]) => process.env[name] === undefined);
  if (flags.length > 0 || env.length > 0) {
    // execve is experimental in Node 24: its warning would be printed on the next tick, which
    // never comes in this process image.
    process.removeAllListeners('warning');
    process.execve(
      process.execPath,
      [process.execPath, ...process.execArgv, ...flags, ...process.argv.slice(1)],
      { ...process.env, ...Object.fromEntries(env) },
    );
  }
}
const installed = import.meta.url.includes('/node_modules/');
if (!installed) {
  const { registerHooks } = await import('node:module');
  registerHooks({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: [...context.conditions, 'rampart-source'] }),
  });
}
const { main } = await import(installed ? '../dist/cli/main.js' : '../src/cli/main.ts');

await main(process.argv.slice(2));
