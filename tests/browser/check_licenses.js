// Fails (exit 1) when any installed npm package's licence is outside the
// allow-list, naming each one. Reads every package that package-lock.json
// says is installed, from its own package.json under node_modules (what was
// really installed, not what the lock claims), and accepts SPDX expressions
// whose every AND part, or at least one OR part, is allowed.
//   node check_licenses.js [DIR]   (DIR: where node_modules and the lock are; default .)

'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ALLOWED = [/^MIT$/, /^Apache-2\.0$/, /^ISC$/, /^BSD-[0-9]-Clause(-Clear)?$/, /^0BSD$/];

// true when the SPDX expression is allowed: "(MIT OR GPL-3.0)" yes,
// "MIT AND GPL-3.0" no. AND binds tighter than OR, as SPDX says.
function allowed(expression) {
  const text = expression.replace(/[()]/g, ' ').trim();
  if (!text) return false;
  return text.split(/\s+OR\s+/).some((alternative) => alternative.split(/\s+AND\s+/)
    .every((id) => ALLOWED.some((pattern) => pattern.test(id.trim().replace(/\+$/, '')))));
}

function licenceOf(manifest) {
  const { license, licenses } = manifest;
  if (typeof license === 'string') return license;
  if (license && typeof license.type === 'string') return license.type;
  if (Array.isArray(licenses)) return licenses.map((l) => l.type || l).join(' OR ');
  return '';
}

function main() {
  const dir = path.resolve(process.argv[2] || '.');
  const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
  const bad = [];
  let count = 0;
  for (const [where, entry] of Object.entries(lock.packages || {})) {
    if (!where.startsWith('node_modules/')) continue;  // "" is this project
    const file = path.join(dir, where, 'package.json');
    if (!fs.existsSync(file)) {
      if (entry.optional) continue;  // not for this platform
      bad.push(`${where}: not installed (run npm ci)`);
      continue;
    }
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
    const licence = licenceOf(manifest);
    count += 1;
    if (!allowed(licence)) bad.push(`${manifest.name}@${manifest.version}: '${licence || 'none'}'`);
  }
  if (bad.length) {
    console.error(`licences: ${bad.length} package(s) outside MIT, Apache-2.0, ISC, BSD-*:`);
    for (const line of bad) console.error(`  ${line}`);
    process.exit(1);
  }
  console.log(`licences: ${count} package(s), all MIT, Apache-2.0, ISC or BSD-*`);
}

main();
