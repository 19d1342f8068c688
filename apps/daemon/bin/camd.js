#!/usr/bin/env node
// Runs the built daemon (dist/, compiled by `pnpm build`): plain Node, no TypeScript transpiler.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('camd: not built (no dist/main.js): run `pnpm build` in the workspace, or `bash scripts/start.sh`\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
