#!/usr/bin/env node
// Entry point; the program itself is compiled from src/ into dist/ by `npm run build`.
import { cli } from '../dist/cli/main.js';

await cli(process.argv.slice(2));
