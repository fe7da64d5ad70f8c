#!/usr/bin/env node
/**
 * The reproducible-build check (threat T12, docs/release.md): the same tree built twice gives the
 * same bytes. It generates the samples twice (they are copied into dist/) and runs the web build
 * twice, each into its own temporary directory under a different name (so an absolute path that
 * leaks into the output shows up too), then compares the two trees file by file and names the
 * first file that is missing, extra or different, with the first differing byte.
 *
 * Needs dist-node/ (the Node build) and public/samples/ (what the web build copies), as
 * `npm test` makes them before it runs this. Exit 0 when both pairs are identical.
 * Usage: node tests/repro-build.mjs [--keep]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'trustflash-repro-'));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** Every file under dir, by relative path, sorted. */
function tree(dir, prefix = '', out = []) {
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) tree(dir, rel, out);
    else out.push(rel);
  }
  return out.sort();
}

/** The first difference between two trees, as a sentence, or undefined. */
function compare(a, b) {
  const ta = tree(a);
  const tb = tree(b);
  const sb = new Set(tb);
  const sa = new Set(ta);
  // a content-hashed name that differs means that chunk's content differs: name them all, both sides
  const onlyA = ta.filter((f) => !sb.has(f));
  const onlyB = tb.filter((f) => !sa.has(f));
  if (onlyA.length || onlyB.length) return `${onlyA[0] ?? onlyB[0]} is in one build only (first build only: ${onlyA.join(', ') || 'none'}; second build only: ${onlyB.join(', ') || 'none'})`;
  for (const f of ta) {
    const x = readFileSync(join(a, f));
    const y = readFileSync(join(b, f));
    if (x.equals(y)) continue;
    let i = 0;
    while (i < x.length && i < y.length && x[i] === y[i]) i++;
    const around = (buf) => JSON.stringify(buf.subarray(Math.max(0, i - 40), i + 40).toString('latin1'));
    return `${f} differs at byte ${i} (sizes ${x.length} and ${y.length}):\n  first:  ${around(x)}\n  second: ${around(y)}`;
  }
  return undefined;
}

const problems = [];
try {
  const t0 = Date.now();
  run('node', ['dist-node/make-samples.js', join(work, 'samples-1')]);
  run('node', ['dist-node/make-samples.js', join(work, 'samples-2')]);
  const samples = compare(join(work, 'samples-1'), join(work, 'samples-2'));
  if (samples) problems.push(`samples: ${samples}`);
  for (const out of ['dist-first', 'dist-second-build']) run('npx', ['vite', 'build', '--logLevel', 'error', '--outDir', join(work, out), '--emptyOutDir']);
  const dist = compare(join(work, 'dist-first'), join(work, 'dist-second-build'));
  if (dist) problems.push(`dist: ${dist}`);
  const files = tree(join(work, 'dist-first')).length;
  if (problems.length === 0) console.log(`reproducible: samples and dist/ (${files} files) byte-identical across two builds, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  problems.push(e.message);
} finally {
  if (keep) console.log(`builds kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
for (const p of problems) console.error(`NOT REPRODUCIBLE: ${p}`);
process.exitCode = problems.length ? 1 : 0;
