#!/usr/bin/env node
// The `rampart` command. In the repository, Node 24 runs the TypeScript sources directly (type
// stripping) and resolves the `rampart` library to its sources too (the `rampart-source`
// export condition); installed under node_modules, where Node does not strip types, it runs
// the JavaScript that `npm pack` built into dist/.
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
