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
