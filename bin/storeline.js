#!/usr/bin/env node
// `storeline` CLI. The TypeScript is compiled to dist/ by `npm install` (the prepare script).
require('../dist/services/cli/main.js');
