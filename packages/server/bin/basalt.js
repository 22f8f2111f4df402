#!/usr/bin/env node
// The `basalt` command. Basalt's sources are TypeScript run by Node 24's type stripping.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(`basalt needs Node.js 24 or newer (this is ${process.version}); run it through npm (npx basalt) to use the pinned Node.\n`);
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
