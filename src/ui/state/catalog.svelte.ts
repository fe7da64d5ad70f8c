/**
 * The release catalog as the page holds it (docs/catalog.md): the file dropped or picked in the
 * Trust panel, checked when it comes (signature and chain against the trust store as it is then,
 * schema, and not older than a catalog already seen), kept in IndexedDB with the highest sequence
 * seen per vendor root and PSID (service/catalog-store.ts). Each verification re-checks it in the
 * verify Worker against the trust store of that moment; this class only decides what is kept.
 * A catalog older than one already seen is refused and the kept one stays.
 */
import type { CatalogStore, KeptCatalog } from '../../service/catalog-store.ts';
import type { TrustSource } from '../worker/protocol.ts';

/** What the Trust panel shows of the kept catalog (display only: the verifier decides). */
export interface CatalogSummary {
  readonly name: string;
  readonly sequence: number;
  readonly issued: string;
  readonly expires: string;
  readonly signer: string;
  readonly products: readonly string[];
  readonly demo: boolean;
  /** Past `expires` by this computer's clock: every image's catalog row fails until a fresh one is loaded. */
  readonly expired: boolean;
}

/** What a verification takes along to the Worker. */
export interface CatalogForVerify {
  readonly bytes: Uint8Array;
  readonly lastSeen: Readonly<Record<string, number>>;
}

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

export class CatalogState {
  #kept = $state.raw<KeptCatalog | undefined>(undefined);
  #seen = $state.raw<Readonly<Record<string, number>>>({});
  #summary = $state.raw<CatalogSummary | undefined>(undefined);
  #note = $state<string | undefined>(undefined);
  #error = $state<string | undefined>(undefined);
  readonly #store: CatalogStore;
  readonly #clock: () => Date;
  #ready: Promise<void> | undefined;

  constructor(store: CatalogStore, clock: () => Date = () => new Date()) {
    this.#store = store;
    this.#clock = clock;
  }

  get summary() {
    return this.#summary;
  }
  /** What happened to the stored catalog at start, or why a dropped one was not loaded. */
  get note() {
    return this.#note;
  }
  /** Why the last dropped or picked catalog was refused. */
  get error() {
    return this.#error;
  }
  get forVerify(): CatalogForVerify | undefined {
    return this.#kept ? { bytes: this.#kept.bytes, lastSeen: this.#seen } : undefined;
  }

  /** Reads the stored catalog once; `trust` is what its summary is checked against. */
  load(trust: () => readonly TrustSource[]): Promise<void> {
    return (this.#ready ??= this.#load(trust));
  }

  async #load(trust: () => readonly TrustSource[]): Promise<void> {
    try {
      const s = await this.#store.load();
      this.#seen = s.seen;
      if (s.refused.length) this.#note = s.refused.join('; ');
      if (s.current) {
        this.#kept = s.current;
        const r = await this.#check(s.current, trust());
        if (r.ok) this.#summary = r.summary;
        else this.#note = `The remembered catalog ${s.current.name} no longer verifies (${r.reason}); every image's catalog check will fail until it is replaced or removed.`;
      }
    } catch (e) {
      this.#note = `The remembered release catalog could not be read (${(e as Error).message}).`;
    }
  }

  async #check(k: KeptCatalog, trust: readonly TrustSource[]): Promise<{ ok: true; summary: CatalogSummary; keys: string[]; sequence: number } | { ok: false; reason: string }> {
    const [{ verifyCatalog, rollbackKeys }, { loadTrustStore }] = await Promise.all([import('../../core/catalog/catalog-verify.ts'), import('../../core/crypto/trust.ts')]);
    const { store } = await loadTrustStore(trust);
    const now = this.#clock();
    const r = await verifyCatalog(k.bytes, { trust: store, time: now });
    if (!r.ok) return { ok: false, reason: r.reason };
    const c = r.value.content;
    return {
      ok: true,
      keys: rollbackKeys(r.value),
      sequence: c.sequence,
      summary: { name: k.name, sequence: c.sequence, issued: iso(c.issued), expires: iso(c.expires), signer: r.value.signer.subject, products: c.products.map((p) => `${p.psid} ${p.current.version}`), demo: r.value.demo, expired: c.expires.getTime() < now.getTime() },
    };
  }

  /** A dropped or picked catalog: kept if it verifies and is not older than one already seen. */
  async add(file: KeptCatalog, trust: readonly TrustSource[], opts: { production?: boolean } = {}): Promise<void> {
    // the stored sequences first, always: judging (and then saving) against an empty "seen" would
    // let an older catalog in and overwrite what was seen
    await this.load(() => trust);
    const r = await this.#check(file, trust);
    if (!r.ok) {
      this.#error = `${file.name} was not loaded: ${r.reason}`;
      return;
    }
    if (opts.production && r.summary.demo) {
      // it would replace the vendor's catalog and vouch for nothing (the catalog row refuses it too)
      this.#error = `${file.name} was refused in production mode: it is signed with a DEMO key, whose private half is public`;
      return;
    }
    const { lastSeenFor } = await import('../../core/catalog/catalog-verify.ts');
    for (const k of r.keys) {
      const psid = k.slice(k.indexOf('/') + 1);
      const last = lastSeenFor(this.#seen, psid) ?? 0;
      if (last > r.sequence) {
        this.#error = `${file.name} was refused: catalog sequence ${r.sequence} is older than sequence ${last} already seen for PSID ${psid} (a rolled-back catalog)`;
        return;
      }
    }
    const seen = { ...this.#seen };
    for (const k of r.keys) seen[k] = Math.max(seen[k] ?? 0, r.sequence);
    this.#kept = file;
    this.#seen = seen;
    this.#summary = r.summary;
    this.#error = undefined;
    this.#note = undefined;
    await this.#save();
  }

  /** Removes the catalog; the sequences seen are kept (forgetting them would reopen rollback). */
  async remove(): Promise<void> {
    await this.#ready;
    this.#kept = undefined;
    this.#summary = undefined;
    this.#error = undefined;
    await this.#save();
  }

  async #save(): Promise<void> {
    try {
      await this.#store.save(this.#kept, this.#seen);
    } catch (e) {
      this.#note = `The catalog could not be remembered (${(e as Error).message}); it lasts until this page is closed.`;
    }
  }
}

/** A dropped file that is a signed catalog: PEM "CMS"/"PKCS7", or DER ContentInfo with the signedData OID (RFC 5652 §5.1). */
export function looksLikeCatalog(bytes: Uint8Array, pemText: string | undefined): boolean {
  if (pemText !== undefined) return /-----BEGIN (CMS|PKCS7)-----/.test(pemText);
  const oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
  return bytes[0] === 0x30 && bytes.subarray(0, 32).some((_, i) => oid.every((b, j) => bytes[i + j] === b));
}
