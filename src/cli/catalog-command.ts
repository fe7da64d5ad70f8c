/** `trustflash catalog sign|inspect|verify`: the release catalog for release engineers (docs/catalog.md). */
import { productionMode } from './production-flag.ts';
import { CATALOG_FILE_MAX, CATALOG_JSON_MAX, type CatalogContent } from '../core/catalog/catalog-json.ts';
import { signCatalog } from '../core/catalog/catalog-sign.ts';
import { lastSeenFor, readCatalogUnverified } from '../core/catalog/catalog-verify.ts';
import { describeCatalog } from '../core/catalog/catalog-check.ts';
import { toPem } from '../core/crypto/pem.ts';
import { bool, need, parseArgs, str, UsageError } from './args.ts';
import { closest, flagSpec } from './help.ts';
import { IoError, type Io } from './io.ts';
import { loadKey, parseNow, signerChain } from './commands.ts';
import { loadTrustSetup } from './trust-setup.ts';

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
const SUBS = ['sign', 'inspect', 'verify'];

export async function cmdCatalog(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'sign') return catalogSign(rest, io);
  if (sub === 'inspect') return catalogInspect(rest, io);
  if (sub === 'verify') return catalogVerify(rest, io);
  const guess = sub ? closest(sub, SUBS) : undefined;
  throw new UsageError(`catalog takes sign, inspect or verify, got ${JSON.stringify(sub ?? '')}${guess ? ` (did you mean "${guess}"?)` : ''}`);
}

function oneFile(p: ReturnType<typeof parseArgs>, what: string): string {
  if (p.positional.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${p.positional.length}`);
  return p.positional[0]!;
}

async function catalogBytes(io: Io, path: string): Promise<Uint8Array> {
  const size = (await io.openBlob(path)).size;
  if (size > CATALOG_FILE_MAX * 2) throw new IoError(`${path}: ${size} bytes is too large for a release catalog`);
  return io.readBytes(path);
}

async function catalogSign(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('catalog sign'));
  const file = oneFile(p, 'CATALOG.json to sign');
  const out = str(p, 'o') ?? str(p, 'out');
  if (!out) throw new UsageError('-o OUT is required');
  const key = await loadKey(io, need(p, 'key'), str(p, 'passin'));
  if (!str(p, 'cert')) throw new UsageError('--cert is required: a catalog names its signer certificate, which verifiers chain to the vendor root');
  const chain = await signerChain(io, p, key.spki);
  const size = (await io.openBlob(file)).size;
  if (size > CATALOG_JSON_MAX) throw new IoError(`${file}: ${size} bytes, a catalog's JSON is at most ${CATALOG_JSON_MAX}`);
  const r = await signCatalog(await io.readText(file), { privateKey: key.privateKey, certificate: chain[0]!, chain: chain.slice(1) });
  if (!r.ok) throw new IoError(`${file}: ${r.reason}; nothing was signed`);
  await io.writeBytes(out, bool(p, 'pem') ? toPem('CMS', r.value.der) : r.value.der, { overwrite: bool(p, 'force') });
  const c = r.value.content;
  io.out(`${out}: release catalog sequence ${c.sequence}, ${c.products.length} product${c.products.length === 1 ? '' : 's'}, valid ${iso(c.issued)} … ${iso(c.expires)}, signed by "${chain[0]!.subject}" (${bool(p, 'pem') ? 'PEM' : 'DER'} CMS)`);
  return 0;
}

function contentLines(c: CatalogContent): string[] {
  const lines = [`  sequence: ${c.sequence}`, `  issued: ${iso(c.issued)}`, `  expires: ${iso(c.expires)}`];
  for (const p of c.products) {
    lines.push(`  product ${p.psid}: current ${p.current.version} (release digest ${p.current.releaseDigest}), minimum ${p.minimumVersion}`);
    for (const a of p.accepted) lines.push(`    still accepted: ${a.version} (release digest ${a.releaseDigest}): ${a.reason}`);
    for (const w of p.withdrawn) lines.push(`    withdrawn: ${w.version}: ${w.reason}`);
  }
  return lines;
}

function contentJson(c: CatalogContent) {
  return { sequence: c.sequence, issued: iso(c.issued), expires: iso(c.expires), products: c.products };
}

async function catalogInspect(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('catalog inspect'));
  const file = oneFile(p, 'CATALOG to inspect');
  const r = readCatalogUnverified(await catalogBytes(io, file));
  const json = bool(p, 'json');
  if (!r.ok) {
    io.out(json ? JSON.stringify({ ok: false, reason: r.reason }, null, 2) : `${file}: not a release catalog: ${r.reason}`);
    return 1;
  }
  const u = r.value;
  if (json) {
    io.out(JSON.stringify({ ok: true, verified: false, signers: u.signers, certificates: u.certificates.map((c) => ({ ...c, notAfter: iso(c.notAfter) })), ...(u.content.ok ? { catalog: contentJson(u.content.value) } : { schemaError: u.content.reason, text: u.json }) }, null, 2));
    return u.content.ok ? 0 : 1;
  }
  const lines = [`${file}: release catalog, ${u.signers} signer${u.signers === 1 ? '' : 's'} (NOT verified: use \`trustflash catalog verify\`)`];
  for (const c of u.certificates) lines.push(`  certificate: ${c.subject} (issuer ${c.issuer}, until ${iso(c.notAfter)})`);
  if (u.content.ok) lines.push(...contentLines(u.content.value));
  else lines.push(`  the content does not meet the catalog schema: ${u.content.reason}`);
  io.out(lines.join('\n'));
  return u.content.ok ? 0 : 1;
}

async function catalogVerify(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('catalog verify'));
  const file = oneFile(p, 'CATALOG to verify');
  productionMode(p); // --now with --production: a usage error before anything is read
  const nowFlag = parseNow(p);
  const now = nowFlag ?? new Date();
  // the catalog to check is the positional file; a bundle's own catalog is not the one asked about
  const setup = await loadTrustSetup(io, { ...p, flags: { ...p.flags, catalog: file } }, { now, missingTrust: '--trust ROOT.pem (or --bundle BUNDLE.json) is required: a catalog is checked against a vendor root' });
  const production = productionMode(p, setup.bundleProduction);
  const input = setup.catalog!;
  const r = input.catalog;
  const problems: string[] = [];
  if (!r.ok) problems.push(r.reason);
  else if (production && r.value.demo) problems.push('refused in production mode: the catalog is signed with a DEMO key, whose private half is public');
  else {
    const c = r.value.content;
    if (now < c.issued) problems.push(`not valid yet at ${iso(now)}: issued at ${iso(c.issued)}`);
    if (now > c.expires) problems.push(`expired at ${iso(c.expires)}`);
    for (const prod of c.products) {
      const last = lastSeenFor(input.lastSeen, prod.psid);
      if (last !== undefined && c.sequence < last) problems.push(`rolled back: sequence ${c.sequence} < last seen ${last} for PSID ${prod.psid}`);
    }
  }
  if (r.ok && problems.length === 0) await setup.recordSeen();
  const json = bool(p, 'json');
  if (json) {
    io.out(JSON.stringify({ ok: problems.length === 0, ...(nowFlag ? { now: nowFlag.toISOString() } : {}), problems, ...(r.ok ? { signer: r.value.signer, anchor: r.value.anchor, demo: r.value.demo, catalog: contentJson(r.value.content) } : {}) }, null, 2));
  } else if (problems.length) {
    io.out(`${file}: REFUSED: ${problems.join('; ')}`);
  } else if (r.ok) {
    io.out([`${file}: valid ${describeCatalog(r.value)}, chained to "${r.value.anchor.subject}"${nowFlag ? ` (judged at ${iso(nowFlag)}, an override)` : ''}`, ...contentLines(r.value.content)].join('\n'));
  }
  return problems.length ? 1 : 0;
}
