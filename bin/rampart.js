#!/usr/bin/env node
// The `rampart` command. In the project, Node 24 runs the TypeScript sources directly (type
// stripping); installed under node_modules, where Node does not strip types, it runs the
// JavaScript that `npm pack` built into dist/.
const installed = import.meta.url.includes('/node_modules/');
const { main } = await import(installed ? '../dist/cli/main.js' : '../src/cli/main.ts');

await main(process.argv.slice(2));
