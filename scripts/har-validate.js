#!/usr/bin/env node
// Checks a HAR file against the HAR 1.2 schema with the npm har-validator (the one request and
// many HAR tools use). Usage: node scripts/har-validate.js FILE
// Prints "valid" and exits 0, or prints one error per line to stderr and exits 1 (2 on usage or
// a missing validator). har-validator comes from <repo>/.build/npm, which `scripts/setup test`
// fills; set HAR_VALIDATOR_DIR to a directory holding node_modules/har-validator to use another.
'use strict';

const fs = require('fs');
const path = require('path');

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error('usage: node scripts/har-validate.js FILE');
  process.exit(2);
}

const base = process.env.HAR_VALIDATOR_DIR || path.join(__dirname, '..', '.build', 'npm');
const location = path.join(base, 'node_modules', 'har-validator');
let validator;
try {
  validator = require(location);
} catch (e) {
  console.error(`har-validate: cannot load ${location}: ${e.code || e.message}; run scripts/setup test`);
  process.exit(2);
}

let har;
try {
  har = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`${file}: ${e.message.split('\n')[0]}`);
  process.exit(1);
}

validator.har(har).then(
  () => {
    console.log('valid');
  },
  (e) => {
    for (const error of e.errors || [e]) {
      // ajv: dataPath ".log.entries[0].request.url", message "should match format \"uri\"".
      console.error(`${file}: ${error.dataPath || '(root)'}: ${error.message}`);
    }
    process.exitCode = 1;
  });
