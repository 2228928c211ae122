#!/usr/bin/env node
// The `mu` command of the installed package: runs the TypeScript CLI (node-agent/src/cli/mu.ts)
// through tsx, which is a runtime dependency. From a checkout: `npm run mu -- <command> …`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../node-agent/src/cli/mu.ts');
process.exitCode = await main(process.argv.slice(2));
