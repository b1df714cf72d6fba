#!/usr/bin/env node
// autotunnel's SSH_ASKPASS helper: ssh runs it with a prompt; it answers a password or key
// passphrase prompt from the private file autotunnel named in its environment, and refuses
// any other prompt (src/adapters/askpass.ts). It holds no secret itself.
import { askpassMain } from '../dist/adapters/askpass.js';

askpassMain(process.argv.slice(2));
