/**
 * Everything a verifying command trusts, from its flags: `--trust` and `--crl` files, a `--bundle`
 * (roots, CRLs, a catalog and the production flag in one file; core/catalog/trust-bundle.ts), a
 * `--catalog` (which replaces a bundle's), and the catalog sequences seen before, from
 * `--state-dir` (catalog-state.ts). The catalog is verified here, at the validation time, and its
 * sequence recorded once the command has judged with it.
 */
import type { Certificate } from '../core/crypto/x509.ts';
import { loadTrustBundle } from '../core/catalog/trust-bundle.ts';
import { verifyCatalog, type CatalogResult } from '../core/catalog/catalog-verify.ts';
import { CATALOG_FILE_MAX } from '../core/catalog/catalog-json.ts';
import type { CatalogCheckInput } from '../core/catalog/catalog-check.ts';
import type { TrustStore } from '../core/crypto/trust.ts';
import { list, str, UsageError, type Parsed } from './args.ts';
import { catalogStateDir, readSeenSequences, recordCatalogSequence, type SeenSequences } from './catalog-state.ts';
import { IoError, type Io } from './io.ts';
import { loadTrustFiles } from './trust-files.ts';

export interface TrustSetup {
  readonly trust: TrustStore;
  /** For verifyImage / the update session; absent without a catalog (the row is then skipped). */
  readonly catalog: CatalogCheckInput | undefined;
  /**
   * The bundle's production flag (false without a bundle). Production mode itself (refusing demo
   * keys and overrides) is not decided here: the command that knows `--production` reads this.
   */
  readonly bundleProduction: boolean;
  /** The bundle's device CAs, for device-signed receipts (empty without a bundle or without any). */
  readonly bundleDeviceCas: readonly Certificate[];
  /** Records the catalog's sequence as seen (after the command judged with it); a failure is a warning. */
  recordSeen(): Promise<void>;
}

export async function loadTrustSetup(io: Io, p: Parsed, opts: { now: Date; missingTrust: string }): Promise<TrustSetup> {
  const bundlePath = str(p, 'bundle');
  const trustPaths = list(p, 'trust');
  if (trustPaths.length === 0 && !bundlePath) throw new UsageError(opts.missingTrust);
  let trust: TrustStore = trustPaths.length || list(p, 'crl').length || !bundlePath ? await loadTrustFiles(io, trustPaths, list(p, 'crl')) : { anchors: [], keys: [], crls: [] };
  let catalogBytes: Uint8Array | undefined;
  let bundleProduction = false;
  let bundleDeviceCas: readonly Certificate[] = [];
  if (bundlePath) {
    const size = (await io.openBlob(bundlePath)).size;
    if (size > 16 * 1024 * 1024) throw new IoError(`--bundle ${bundlePath}: ${size} bytes is too large for a trust bundle`);
    const b = await loadTrustBundle(await io.readText(bundlePath), bundlePath);
    if (!b.ok) throw new IoError(`--bundle ${b.reason}`);
    for (const w of b.warnings) io.err(`warning: ${w}`);
    const t = b.value.trust;
    trust = { anchors: [...trust.anchors, ...t.anchors], keys: [...trust.keys, ...t.keys], crls: [...(trust.crls ?? []), ...(t.crls ?? [])] };
    catalogBytes = b.value.catalog;
    bundleProduction = b.value.production;
    bundleDeviceCas = b.value.deviceCas;
  }
  const catalogPath = str(p, 'catalog');
  if (catalogPath) {
    const size = (await io.openBlob(catalogPath)).size;
    if (size > CATALOG_FILE_MAX * 2) throw new IoError(`--catalog ${catalogPath}: ${size} bytes is too large for a release catalog (at most ${CATALOG_FILE_MAX} bytes of DER)`);
    if (catalogBytes) io.err(`note: --catalog ${catalogPath} is used instead of the catalog in --bundle ${bundlePath}`);
    catalogBytes = await io.readBytes(catalogPath);
  }
  if (!catalogBytes) {
    if (str(p, 'state-dir') !== undefined) throw new UsageError('--state-dir keeps the catalog sequences seen: it needs --catalog FILE (or a --bundle with a catalog)');
    return { trust, catalog: undefined, bundleProduction, bundleDeviceCas, recordSeen: async () => {} };
  }
  const dir = catalogStateDir(io, str(p, 'state-dir'));
  const seen = await readSeenSequences(dir);
  const result = await verifyCatalog(catalogBytes, { trust, time: opts.now });
  return { trust, catalog: { catalog: result, lastSeen: seen }, bundleProduction, bundleDeviceCas, recordSeen: () => recordSeen(io, dir, seen, result) };
}

async function recordSeen(io: Io, dir: string, seen: SeenSequences, result: CatalogResult): Promise<void> {
  if (!result.ok) return;
  try {
    await recordCatalogSequence(dir, seen, result.value);
  } catch (e) {
    // the judgement already made stands; what is lost is the protection of the next run, so say it
    io.err(`warning: ${(e as Error).message}; a rolled-back catalog will not be recognised against this one`);
  }
}
