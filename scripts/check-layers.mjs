#!/usr/bin/env node
/**
 * Layers only point down: every import inside src/ is checked against the layer table in the
 * README ("How a change is made"). Prints each import that points against it, with file and
 * line, and exits 1 when there is one. Usage: node scripts/check-layers.mjs [--list]
 * (--list: count by layer pair)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** layer → the layers it may import (itself always allowed). Same rows as the README's table. */
const MAY_IMPORT = {
  errors: [],
  faults: [], // the test seam every adapter passes: a leaf like errors
  model: ['errors'],
  validate: ['model', 'errors'],
  plan: ['model', 'errors'],
  kernel: ['model', 'errors', 'faults'],
  store: ['model', 'errors', 'faults'],
  libvirt: ['model', 'errors', 'faults'],
  caps: ['model', 'errors', 'kernel'],
  dhcp: ['plan', 'store', 'model', 'errors', 'faults'],
  mirror: ['kernel', 'store', 'model', 'errors'],
  apply: ['validate', 'plan', 'kernel', 'store', 'libvirt', 'dhcp', 'caps', 'model', 'errors', 'faults'],
  ports: ['kernel', 'store', 'libvirt', 'plan', 'model', 'errors'],
  api: ['apply', 'caps', 'ports', 'plan', 'kernel', 'store', 'libvirt', 'model', 'errors'],
  rpc: ['api', 'model', 'errors'],
  cli: ['rpc', 'model', 'errors'],
  daemon: null, // wiring: everything
};

const layerOf = (file) => {
  const rel = path.relative(src, file).split(path.sep);
  return rel.length === 1 ? rel[0].replace(/\.[jt]s$/, '') : rel[0];
};

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const violations = [];
for (const file of files(src)) {
  const from = layerOf(file);
  const allowed = MAY_IMPORT[from];
  if (allowed === undefined) {
    violations.push({ file, line: 1, from, to: '?', spec: `(no layer named '${from}' in the table)` });
    continue;
  }
  if (allowed === null) continue;
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    const m = /^\s*(?:import|export)\b[^'"]*from\s+['"](\.[^'"]+)['"]/.exec(text) ?? /^\s*import\s+['"](\.[^'"]+)['"]/.exec(text);
    if (!m) return;
    const to = layerOf(path.resolve(path.dirname(file), m[1]));
    if (to !== from && !allowed.includes(to)) violations.push({ file, line: i + 1, from, to, spec: m[1] });
  });
}

if (process.argv.includes('--list')) {
  const pairs = new Map();
  for (const v of violations) pairs.set(`${v.from} → ${v.to}`, (pairs.get(`${v.from} → ${v.to}`) ?? 0) + 1);
  for (const [k, n] of [...pairs].sort((a, b) => b[1] - a[1])) console.log(`${String(n).padStart(3)}  ${k}`);
}
for (const v of violations) console.log(`${path.relative(process.cwd(), v.file)}:${v.line}: ${v.from} may not import ${v.to} (${v.spec})`);
console.log(violations.length === 0 ? 'layers: every import points down' : `layers: ${violations.length} imports point against the table`);
process.exit(violations.length === 0 ? 0 : 1);
