#!/usr/bin/env node
// Mint an awragate signed URL with Node's standard library only.
//
// Usage: AWRA_URL_SECRET=<secret> node signer.js METHOD URL KEY_ID EXPIRES
//
// EXPIRES is the expiry in Unix seconds (10 digits). The secret is used as raw
// bytes and must be at least 32 bytes long. The signed URL is printed on stdout.
'use strict';

const crypto = require('node:crypto');

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const CONTROL = new Set(['X-Awra-Key-Id', 'X-Awra-Expires', 'X-Awra-Signature']);

// Percent-decodes raw (a Buffer); '+' stays a plus. Throws on a bad escape.
function decode(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      out.push(raw[i]);
      continue;
    }
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error('malformed percent-escape');
    out.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(out);
}

// Keeps unreserved bytes and writes every other byte as %XX in upper-case hex.
function encode(bytes) {
  let out = '';
  for (const c of bytes) {
    const ch = String.fromCharCode(c);
    out += UNRESERVED.test(ch) ? ch : '%' + c.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function canonicalPath(path) {
  if (path === '') return '/';
  return path.replace(/%[0-9A-Fa-f]{2}/g, (esc) => encode(decode(Buffer.from(esc, 'utf8'))));
}

function compare(a, b) {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

function canonicalString(method, scheme, host, path, query) {
  let h = host.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const defaultPort = { https: ':443', http: ':80' }[scheme.toLowerCase()];
  if (defaultPort && h.endsWith(defaultPort)) h = h.slice(0, -defaultPort.length);

  const params = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = encode(decode(Buffer.from(eq < 0 ? piece : piece.slice(0, eq), 'utf8')));
    const value = encode(decode(Buffer.from(eq < 0 ? '' : piece.slice(eq + 1), 'utf8')));
    if (name !== 'X-Awra-Signature') params.push([name, value]);
  }
  // Encoded names and values are ASCII, so comparing strings compares bytes.
  params.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));

  return ['AWRA-HMAC-SHA256', method.replace(/[a-z]/g, (c) => c.toUpperCase()), h,
    canonicalPath(path), params.map(([n, v]) => `${n}=${v}`).join('&')].join('\n');
}

// Throws for anything awragate's own signer rejects.
function check(method, scheme, host, path, query, keyId) {
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(method)) throw new Error('method is not an HTTP token');
  if (!['http', 'https'].includes(scheme.toLowerCase())) throw new Error('scheme must be http or https');
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:[\]%]+$/.test(host)) throw new Error('host is empty or has a character outside RFC 3986');
  if (path !== '' && !path.startsWith('/')) throw new Error("path must start with '/'");
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/.test(path)) throw new Error('path has a character that must be percent-encoded');
  if (!/^[A-Za-z0-9\-._~!$&'()*+,=:@/%?]*$/.test(query)) throw new Error("query has a ';' or a character that must be percent-encoded");
  decode(Buffer.from(path, 'utf8'));
  decode(Buffer.from(query, 'utf8'));
  for (const piece of query.split('&')) {
    const name = piece.split('=', 1)[0];
    if (CONTROL.has(decode(Buffer.from(name, 'utf8')).toString('latin1'))) throw new Error('query already has an X-Awra-* parameter');
  }
  if (!/^[a-z0-9-]{1,64}$/.test(keyId)) throw new Error("key id must be 1 to 64 of a-z, 0-9 and '-'");
}

function signURL(method, url, keyId, expires, secret) {
  const sep = url.indexOf('://');
  if (sep <= 0) throw new Error('URL must be absolute');
  const scheme = url.slice(0, sep);
  let rest = url.slice(sep + 3);
  let fragment = null;
  if (rest.includes('#')) [rest, fragment] = [rest.slice(0, rest.indexOf('#')), rest.slice(rest.indexOf('#') + 1)];
  let query = '';
  if (rest.includes('?')) [rest, query] = [rest.slice(0, rest.indexOf('?')), rest.slice(rest.indexOf('?') + 1)];
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (host.includes('@')) throw new Error('URL must not have userinfo');
  check(method, scheme, host, path, query, keyId);
  if (!(expires >= 1000000000 && expires <= 9999999999)) throw new Error('expiry must be 10 digits');

  query = (query ? query + '&' : '') + `X-Awra-Key-Id=${keyId}&X-Awra-Expires=${expires}`;
  const signed = canonicalString(method, scheme, host, path, query);
  const signature = crypto.createHmac('sha256', secret).update(signed, 'utf8').digest('base64url');
  return `${scheme}://${host}${path}?${query}&X-Awra-Signature=${signature}` + (fragment === null ? '' : '#' + fragment);
}

module.exports = { canonicalString, signURL };

if (require.main === module) {
  const args = process.argv.slice(2);
  const secret = Buffer.from(process.env.AWRA_URL_SECRET || '', 'utf8');
  if (args.length !== 4 || !/^[0-9]{10}$/.test(args[3])) {
    console.error('usage: AWRA_URL_SECRET=<secret> node signer.js METHOD URL KEY_ID EXPIRES(10 digits)');
    process.exit(2);
  }
  if (secret.length < 32) {
    console.error('AWRA_URL_SECRET must hold a secret of at least 32 bytes');
    process.exit(2);
  }
  try {
    console.log(signURL(args[0], args[1], args[2], Number(args[3]), secret));
  } catch (err) {
    console.error(`cannot sign: ${err.message}`);
    process.exit(1);
  }
}
