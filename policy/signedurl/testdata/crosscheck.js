#!/usr/bin/env node
// Test driver: runs signer.js on a JSON list of cases read from stdin, in the
// same format as crosscheck.py, and prints the JSON list of results.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { canonicalString, signURL } = require(path.join(__dirname, 'signer.js'));

const secret = Buffer.from(process.env.AWRA_URL_SECRET, 'utf8');
const out = JSON.parse(fs.readFileSync(0, 'utf8')).map((c) => {
  try {
    if (c.op === 'sign') return { result: signURL(c.method, c.url, c.key_id, c.expires, secret) };
    const text = canonicalString(c.method, c.scheme, c.host, c.path, c.query);
    return { result: text, signature: crypto.createHmac('sha256', secret).update(text, 'utf8').digest('base64url') };
  } catch (err) {
    return { error: err.message };
  }
});
process.stdout.write(JSON.stringify(out));
