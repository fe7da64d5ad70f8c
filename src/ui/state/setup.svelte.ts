/**
 * What the checks are made against: the trust store (the demo root by default, plus PEM roots and
 * CRLs the user adds) and the target device identity (the emulated NIC's by default). Loaded from the
 * app's own origin; fetchText comes in through the constructor.
 */
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';
import type { TrustSource } from '../worker/protocol.ts';
import { looksLikePem, parsePem } from '../../core/crypto/pem.ts';
import { summarizeCrls, type CrlSummary } from './crl-summary.ts';
import { looksLikeCatalog, type CatalogState } from './catalog.svelte.ts';
import { MAX_STORED_CRLS, MAX_STORED_ROOTS, PRODUCTION_KEY, readStoredProduction, readStoredTrust, storedProductionText, storedTrustText, TRUST_KEY, type BundleMark, type TrustMemory } from './trust-memory.ts';

export { TRUST_KEY, type TrustMemory };

export type { CrlSummary };

export interface SampleEntry {
  readonly file: string;
  readonly title: string;
  readonly description: string;
  readonly expect: { readonly verdict: 'accept' | 'reject'; readonly failedCheck?: string };
  readonly kind: 'image' | 'detached';
  readonly signature?: string;
  readonly certificate?: string;
  readonly size?: number;
}

/** A trust file as the page received it (drop or pick). */
export interface TrustFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}


export { fetchBytesFromApp, fetchFromApp, storedOffline } from './app-fetch.ts';

/** A dropped JSON file naming the trust-bundle schema (trust-bundle.ts reads it strictly). */
function looksLikeBundle(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 4096));
  return head.trimStart().startsWith('{') && head.includes('"trustflash-trust-bundle"');
}
import { fetchBytesFromApp } from './app-fetch.ts';

export class SetupState {
  #samples = $state.raw<SampleEntry[]>([]);
  #demoRoot = $state.raw<TrustSource | undefined>(undefined);
  #useDemoRoot = $state(true);
  #extraTrust = $state.raw<TrustSource[]>([]);
  #demoDevice = $state.raw<DeviceIdentity | undefined>(undefined);
  #useDevice = $state(true);
  #loadError = $state<string | undefined>(undefined);
  #trustNote = $state<string | undefined>(undefined);
  #crls = $state.raw<TrustSource[]>([]);
  #crlSummaries = $state.raw<CrlSummary[]>([]);
  #fileNote = $state<string | undefined>(undefined);
  #production = $state(false);
  #productionNote = $state<string | undefined>(undefined);
  #bundle = $state.raw<BundleMark | undefined>(undefined);
  readonly #fetchText: (url: string) => Promise<string>;
  readonly #memory: TrustMemory | undefined;
  readonly #clock: () => Date;
  /** The release catalog (catalog.svelte.ts), when the page keeps one. */
  readonly catalog: CatalogState | undefined;

  constructor(fetchText: (url: string) => Promise<string>, memory?: TrustMemory, clock: () => Date = () => new Date(), catalog?: CatalogState) {
    this.#fetchText = fetchText;
    this.#memory = memory;
    this.#clock = clock;
    this.catalog = catalog;
    this.#recall();
    this.#recallProduction();
  }

  /**
   * Production mode (core/verify/production.ts): every check the page asks for refuses DEMO keys,
   * development and final images and overrides, and the demo scenarios are hidden. Remembered in
   * this browser; a remembered value that cannot be read turns it on (fail closed) and says so.
   */
  get production(): boolean {
    return this.#production;
  }
  /** What happened to the remembered production setting at start, or why it could not be kept. */
  get productionNote(): string | undefined {
    return this.#productionNote;
  }
  /**
   * Called when a loaded trust bundle sets production mode (the flow turns it on and checks the
   * selection again); without a listener the setup turns it on itself.
   */
  onBundleProduction: (() => Promise<void> | void) | undefined;

  /** Turning production mode on or off is always this explicit call (the page's switch); it is remembered. */
  setProduction(on: boolean): void {
    this.#production = on;
    this.#productionNote = undefined;
    try {
      this.#memory?.setItem(PRODUCTION_KEY, storedProductionText(on));
    } catch (e) {
      this.#productionNote = `Production mode could not be remembered (${(e as Error).message}); it lasts until this page is closed.`;
    }
  }

  #recallProduction(): void {
    let text: string | null = null;
    try {
      text = this.#memory?.getItem(PRODUCTION_KEY) ?? null;
    } catch {
      return;
    }
    if (text === null) return;
    try {
      this.#production = readStoredProduction(text);
    } catch (e) {
      this.#production = true;
      this.#productionNote = `The remembered production-mode setting could not be read (${(e as Error).message}): production mode is on until you turn it off.`;
    }
  }

  /** What happened to the remembered trust store at start (restored, or set aside and why). */
  get trustNote() {
    return this.#trustNote;
  }

  #recall(): void {
    let text: string | null = null;
    try {
      text = this.#memory?.getItem(TRUST_KEY) ?? null;
    } catch {
      return; // storage disabled: nothing remembered, nothing to say
    }
    if (text === null) return;
    try {
      const v = readStoredTrust(text);
      this.#useDemoRoot = v.useDemoRoot;
      this.#extraTrust = v.roots;
      this.#crls = v.crls;
      this.#bundle = v.bundle;
      const kept = [...v.roots, ...v.crls];
      if (kept.length) this.#trustNote = `Remembered on this computer: ${kept.map((r) => r.name).join(', ')}.`;
      void this.#summarize();
    } catch (e) {
      this.#trustNote = `The remembered trust store could not be read (${(e as Error).message}); it was set aside and the defaults are used. Add your vendor roots again.`;
      try {
        this.#memory?.setItem(`${TRUST_KEY}.unreadable`, text);
      } catch {
        /* nothing more to do */
      }
    }
  }

  #remember(): void {
    try {
      this.#memory?.setItem(TRUST_KEY, storedTrustText(this.#useDemoRoot, this.#extraTrust, this.#crls, this.#bundle));
    } catch (e) {
      this.#trustNote = `The trust store could not be remembered (${(e as Error).message}); it lasts until this page is closed.`;
    }
  }

  get samples() {
    return this.#samples;
  }
  get loadError() {
    return this.#loadError;
  }
  get useDemoRoot() {
    return this.#useDemoRoot;
  }
  get useDevice() {
    return this.#useDevice;
  }
  get device(): DeviceIdentity | undefined {
    return this.#useDevice ? this.#demoDevice : undefined;
  }
  get demoDevice() {
    return this.#demoDevice;
  }
  get extraTrust() {
    return this.#extraTrust;
  }
  /** The CRLs kept, as the Trust panel lists them (issuer, dates, count, expired). */
  get crls(): readonly CrlSummary[] {
    return this.#crlSummaries;
  }
  /** The trust bundle loaded last, if any: its name and the administrator's production flag. */
  get bundle(): BundleMark | undefined {
    return this.#bundle;
  }
  /**
   * The production flag of the loaded trust bundle (false without one). This class only carries
   * it; production mode itself (refusing demo keys and overrides) reads it.
   */
  /** The loaded bundle's device CAs (PEM), which the page's update sessions check receipts against. */
  get deviceCaTexts(): readonly string[] {
    return this.#bundle?.deviceCas ?? [];
  }
  get bundleProduction(): boolean {
    return this.#bundle?.production ?? false;
  }
  /** Why the last dropped or picked file was not taken, if it was not. */
  get fileNote() {
    return this.#fileNote;
  }
  /** Everything a verification loads: the roots, then the CRLs (loadTrustStore reads their X509 CRL blocks). */
  get trust(): TrustSource[] {
    return [...(this.#useDemoRoot && this.#demoRoot ? [this.#demoRoot] : []), ...this.#extraTrust, ...this.#crls];
  }

  #loaded: Promise<void> | undefined;

  /** Loads the sample list, the demo trust root and the device identity (once). */
  load(): Promise<void> {
    return (this.#loaded ??= this.#load());
  }

  /**
   * Resolves when the trust store and device identity are in place. Verifying before that would
   * check against an empty trust store and report a false "does not chain to a trusted root".
   */
  whenReady(): Promise<void> {
    return this.load();
  }

  async #load(): Promise<void> {
    try {
      const index = JSON.parse(await this.#fetchText('samples/index.json')) as { trust: string; device: string; samples: SampleEntry[] };
      const rootText = await this.#fetchText(`samples/${index.trust}`);
      const device = JSON.parse(await this.#fetchText(`samples/${index.device}`)) as DeviceIdentity;
      // all at once, so nothing can be verified against a half-loaded setup
      this.#demoRoot = { name: `${index.trust} (demo root)`, text: rootText };
      this.#demoDevice = device;
      this.#samples = index.samples;
    } catch (e) {
      this.#loadError = `the samples and demo trust root could not be loaded: ${(e as Error).message}`;
    }
    // the remembered catalog is checked against the trust store just loaded
    await this.catalog?.load(() => this.trust);
  }

  setUseDemoRoot(on: boolean) {
    this.#useDemoRoot = on;
    this.#remember();
  }
  setUseDevice(on: boolean) {
    this.#useDevice = on;
  }
  /**
   * Adds (or replaces, by name) a vendor root. Nothing kept is ever dropped to make room: when the
   * page already keeps the most it remembers, the new one is refused and the reason returned.
   */
  addTrust(src: TrustSource): string | undefined {
    const others = this.#extraTrust.filter((t) => t.name !== src.name);
    if (others.length >= MAX_STORED_ROOTS) return `${src.name}: the page keeps at most ${MAX_STORED_ROOTS} vendor roots; remove one first`;
    this.#extraTrust = [...others, src];
    this.#remember();
    return undefined;
  }
  removeTrust(name: string) {
    this.#extraTrust = this.#extraTrust.filter((t) => t.name !== name);
    this.#remember();
  }

  /**
   * Files dropped on or picked in the Trust panel: a PEM with X509 CRL blocks, or a DER file that
   * parses as a CRL, is kept as a CRL (DER armoured as PEM text); any other PEM is a vendor root, as
   * before. A file that is neither is refused with the reason.
   */
  async addFiles(files: readonly TrustFile[]): Promise<void> {
    // roots first and at once, before any await: a verification started right after the pick
    // must see them (crl.ts, with pkijs, is loaded only when a CRL comes)
    const maybeCrls: TrustFile[] = [];
    const rootProblems: string[] = [];
    const catalogs: TrustFile[] = [];
    const bundles: TrustFile[] = [];
    for (const f of files) {
      // a bundle first: its JSON carries PEM text, and must not be taken for a PEM file
      if (looksLikeBundle(f.bytes)) {
        bundles.push(f);
        continue;
      }
      const text = looksLikePem(f.bytes) ? new TextDecoder().decode(f.bytes) : undefined;
      if (this.catalog && looksLikeCatalog(f.bytes, text)) catalogs.push(f);
      else if (text !== undefined && !parsePem(text).blocks.some((b) => b.label === 'X509 CRL')) {
        const full = this.addTrust({ name: f.name, text });
        if (full) rootProblems.push(full);
      } else maybeCrls.push(f);
    }
    const bundleProblems: string[] = [...rootProblems];
    for (const b of bundles) {
      const problem = await this.#addBundle(b);
      if (problem) bundleProblems.push(problem);
    }
    // the last catalog given wins (a catalog replaces the one kept, unless it is older)
    const catalog = catalogs.at(-1);
    if (catalog) await this.catalog!.add({ name: catalog.name, bytes: catalog.bytes }, this.trust, { production: this.#production });
    if (maybeCrls.length === 0) {
      this.#fileNote = bundleProblems.length ? `Not added: ${bundleProblems.join('; ')}` : undefined;
      return;
    }
    const { crlFileText, parseCrl } = await import('../../core/crypto/crl.ts');
    const refused: string[] = [];
    for (const f of maybeCrls) {
      const text = crlFileText(f.bytes);
      if (!text.ok) {
        refused.push(`${f.name}: ${text.reason}`);
        continue;
      }
      const bad = parsePem(text.value).blocks.map((b) => parseCrl(b.der)).find((r) => !r.ok);
      if (bad && !bad.ok) {
        refused.push(`${f.name}: ${looksLikePem(f.bytes) ? '' : 'not a PEM root, and '}${bad.reason}`);
        continue;
      }
      const others = this.#crls.filter((c) => c.name !== f.name);
      if (others.length >= MAX_STORED_CRLS) {
        // never drop a kept CRL to make room: a forgotten CRL is a revocation no longer checked
        refused.push(`${f.name}: the page keeps at most ${MAX_STORED_CRLS} revocation lists; remove one first`);
        continue;
      }
      this.#crls = [...others, { name: f.name, text: text.value }];
    }
    refused.unshift(...bundleProblems);
    this.#fileNote = refused.length ? `Not added: ${refused.join('; ')}` : undefined;
    this.#remember();
    await this.#summarize();
  }

  /**
   * A trust bundle (docs/catalog.md §7): all or nothing. Its roots and CRLs are kept like dropped
   * ones (named after the bundle), its catalog goes to the catalog state, and its name and
   * production flag are remembered. Returns why it was refused, if it was.
   */
  async #addBundle(f: TrustFile): Promise<string | undefined> {
    const { loadTrustBundle } = await import('../../core/catalog/trust-bundle.ts');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(f.bytes);
    } catch {
      return `${f.name}: a trust bundle is UTF-8 JSON text`;
    }
    const r = await loadTrustBundle(text, f.name);
    if (!r.ok) return r.reason;
    const b = r.value;
    const label = `${b.name} (${f.name})`;
    const roots = b.rootTexts.map((t, i) => ({ name: `${label} root ${i + 1}`, text: t }));
    const crls = b.crlTexts.map((t, i) => ({ name: `${label} CRL ${i + 1}`, text: t }));
    const nextRoots = [...this.#extraTrust.filter((t) => !roots.some((r) => r.name === t.name)), ...roots];
    const nextCrls = [...this.#crls.filter((c) => !crls.some((n) => n.name === c.name)), ...crls];
    // all or nothing: a bundle that does not fit is refused whole, and nothing kept is dropped for it
    if (nextRoots.length > MAX_STORED_ROOTS) return `${f.name}: with its ${roots.length} roots the page would keep ${nextRoots.length}, at most ${MAX_STORED_ROOTS}; remove some first`;
    if (nextCrls.length > MAX_STORED_CRLS) return `${f.name}: with its ${crls.length} revocation lists the page would keep ${nextCrls.length}, at most ${MAX_STORED_CRLS}; remove some first`;
    this.#extraTrust = nextRoots;
    this.#crls = nextCrls;
    this.#bundle = { name: b.name, production: b.production, ...(b.deviceCaTexts.length ? { deviceCas: b.deviceCaTexts } : {}) };
    this.#remember();
    await this.#summarize();
    if (b.production && !this.#production) {
      if (this.onBundleProduction) await this.onBundleProduction();
      else this.setProduction(true);
      this.#productionNote = `Production mode was turned on by the trust bundle "${b.name}" (${f.name}).`;
    }
    if (b.catalog) await this.catalog?.add({ name: `${label} catalog`, bytes: b.catalog }, this.trust, { production: this.#production });
    return undefined;
  }

  removeCrl(name: string) {
    this.#crls = this.#crls.filter((c) => c.name !== name);
    this.#crlSummaries = this.#crlSummaries.filter((c) => c.name !== name);
    this.#remember();
  }

  async #summarize(): Promise<void> {
    this.#crlSummaries = await summarizeCrls(this.#crls, this.#clock());
  }

  /** Fetches a sample as a File, so it goes through exactly the path a dropped file takes. */
  async sampleFiles(s: SampleEntry): Promise<{ files: File[]; certificateTexts: TrustSource[] }> {
    const get = async (name: string) => new File([await fetchBytesFromApp(`samples/${name}`)], name);
    const files = [await get(s.file)];
    const certificateTexts: TrustSource[] = [];
    if (s.signature) files.push(await get(s.signature));
    if (s.certificate) certificateTexts.push({ name: s.certificate, text: await this.#fetchText(`samples/${s.certificate}`) });
    return { files, certificateTexts };
  }
}
