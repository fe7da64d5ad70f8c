/**
 * The `catalog` row of the pre-flight report: is this image a release the vendor's current catalog
 * vouches for? Run only on an authenticated manifest (verify-image.ts). The verdict starts as
 * "fail" and passes at one exit, when every question has the right answer, in this order:
 * the catalog verified (signature, chain, CRLs, schema) → it is valid at the validation time (not
 * before `issued`, not after `expires`: freeze protection) → it lists the image's product → its
 * sequence is not below the highest one seen for that root and product (rollback protection) →
 * the version is not withdrawn, not below the minimum → it is the current release, or an older one
 * the catalog accepts by name and reason → the release digest is the one listed.
 */
import type { Manifest } from '../image/layout.ts';
import { compareVersions } from '../image/version.ts';
import type { CatalogProduct } from './catalog-json.ts';
import { lastSeenFor, type CatalogResult, type VerifiedCatalog } from './catalog-verify.ts';

export interface CatalogCheckInput {
  readonly catalog: CatalogResult;
  /** The highest sequence seen before, by rollbackKey(anchor key id, PSID). Missing: none seen. */
  readonly lastSeen?: Readonly<Record<string, number>>;
}

export interface CatalogCheckArgs extends CatalogCheckInput {
  readonly manifest: Manifest;
  /** Report.releaseDigest: SHA-256 of header ‖ manifest, lowercase hex. */
  readonly releaseDigest: string;
  readonly now: Date;
  /** The device's PSID when a device is known; otherwise every PSID the image names is judged. */
  readonly devicePsid?: string;
  /** Production mode: a catalog signed under a DEMO key vouches for nothing. */
  readonly production?: boolean;
}

export type CatalogVerdict = { readonly status: 'pass' | 'fail'; readonly reason: string };

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

/** "catalog sequence 7 (issued …, valid until …, signed by "…")", the catalog's identity in a reason. */
export function describeCatalog(c: VerifiedCatalog): string {
  return `catalog sequence ${c.content.sequence} (issued ${iso(c.content.issued)}, valid until ${iso(c.content.expires)}, signed by "${c.signer.subject}"${c.demo ? ', a DEMO key' : ''})`;
}

function judgeProduct(p: CatalogProduct, version: string, digest: string): CatalogVerdict {
  const withdrawn = p.withdrawn.find((w) => w.version === version);
  if (withdrawn) return { status: 'fail', reason: `version ${version} is withdrawn for PSID ${p.psid}: "${withdrawn.reason}"` };
  if (compareVersions(version, p.minimumVersion) < 0) return { status: 'fail', reason: `version ${version} is below the minimum acceptable version ${p.minimumVersion} for PSID ${p.psid}` };
  const mismatch = (listed: string) => ({
    status: 'fail' as const,
    reason: `release digest mismatch for version ${version} of PSID ${p.psid}: the image's is ${digest}, the catalog lists ${listed} (not the release the vendor published)`,
  });
  if (version === p.current.version) {
    if (digest !== p.current.releaseDigest) return mismatch(p.current.releaseDigest);
    return { status: 'pass', reason: `the current release ${version} of PSID ${p.psid}, release digest matches` };
  }
  const older = p.accepted.find((a) => a.version === version);
  if (older) {
    if (digest !== older.releaseDigest) return mismatch(older.releaseDigest);
    return { status: 'pass', reason: `an older release ${version} of PSID ${p.psid} that the catalog still accepts: "${older.reason}" (current ${p.current.version}); release digest matches` };
  }
  if (compareVersions(version, p.current.version) > 0) return { status: 'fail', reason: `version ${version} is not listed for PSID ${p.psid}: it is newer than the catalog's current release ${p.current.version}` };
  return { status: 'fail', reason: `version ${version} is not listed for PSID ${p.psid}: an older release the catalog does not accept (current ${p.current.version})` };
}

/** The catalog row's verdict. Pure; the caller records a newer sequence once it is seen (never here). */
export function checkCatalog(a: CatalogCheckArgs): CatalogVerdict {
  if (!a.catalog.ok) {
    const what = a.catalog.kind === 'chain' ? 'its signer is not trusted' : a.catalog.kind === 'signature' || a.catalog.kind === 'content' ? 'its signature does not verify' : 'it cannot be used';
    return { status: 'fail', reason: `the release catalog was refused (${what}): ${a.catalog.reason}` };
  }
  const c = a.catalog.value;
  const cat = describeCatalog(c);
  if (a.production && c.demo) return { status: 'fail', reason: `refused in production mode: the catalog is signed with a DEMO key, whose private half is public; ${cat}` };
  const t = a.now.getTime();
  if (t < c.content.issued.getTime()) return { status: 'fail', reason: `the catalog is not valid yet at ${iso(a.now)}: it was issued at ${iso(c.content.issued)} (is this host's clock right?); ${cat}` };
  if (t > c.content.expires.getTime()) return { status: 'fail', reason: `the catalog expired at ${iso(c.content.expires)}: get a fresh catalog from the vendor; ${cat}` };
  const targets = a.devicePsid !== undefined ? [a.devicePsid] : a.manifest.psids;
  const products = c.content.products.filter((p) => targets.includes(p.psid));
  if (products.length === 0) return { status: 'fail', reason: `not listed: the catalog lists no product with PSID ${targets.join(' or ')}; ${cat}` };
  // without a device the image is judged for every PSID it names: one the catalog does not list is not vouched for
  const unlisted = targets.filter((t) => !products.some((p) => p.psid === t));
  if (unlisted.length) return { status: 'fail', reason: `not listed: the image is also for PSID ${unlisted.join(', ')}, which the catalog does not list (pass the device to judge it for one PSID); ${cat}` };
  for (const p of products) {
    const last = lastSeenFor(a.lastSeen, p.psid);
    if (last !== undefined && c.content.sequence < last) {
      return { status: 'fail', reason: `rolled back: catalog sequence ${c.content.sequence} < last seen ${last} for PSID ${p.psid} (an older catalog than one this host already saw); ${cat}` };
    }
  }
  const verdicts = products.map((p) => judgeProduct(p, a.manifest.version, a.releaseDigest));
  const failed = verdicts.find((v) => v.status === 'fail');
  if (failed) return { status: 'fail', reason: `${failed.reason}; ${cat}` };
  return { status: 'pass', reason: `${verdicts.map((v) => v.reason).join('; ')}; ${cat}` };
}
