/**
 * What the checks are made against: the trust store (the demo root by default, plus PEM roots and
 * CRLs the user adds) and the target device identity (the emulated NIC's by default). Loaded from the
 * app's own origin; fetchText comes in through the constructor.
 */
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';
import type { TrustSource } from '../worker/protocol.ts';
import { looksLikePem, parsePem } from '../../core/crypto/pem.ts';

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

/**
 * Where the operator's trust choices are remembered (the page passes localStorage): the vendor roots
 * added and whether the demo root is used, so a lab's trust store survives reloads and works offline.
 */
export interface TrustMemory {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * The stored shape, versioned: an older or unknown one is set aside with a message, never half-read.
 * `crls` came later, optional within version 1: a store saved before it loads unchanged, and it is
 * written only when a CRL is kept, so a store without CRLs is byte-identical to the older one.
 */
interface StoredTrust {
  readonly version: 1;
  readonly useDemoRoot: boolean;
  readonly roots: readonly TrustSource[];
  /** CRL files as PEM text ("X509 CRL"; a DER file is armoured when added). */
  readonly crls?: readonly TrustSource[];
}
export const TRUST_KEY = 'trustflash.trust';
const MAX_STORED_ROOTS = 32;
const MAX_STORED_CRLS = 32;

/** What the Trust panel lists for a CRL, read from the file (display only: the worker decides). */
export interface CrlSummary {
  readonly name: string;
  readonly issuer?: string;
  readonly thisUpdate?: string;
  readonly nextUpdate?: string;
  readonly number?: string;
  readonly revokedCount?: number;
  /** Past its nextUpdate by this computer's clock: chains through its issuer fail until a newer one is added. */
  readonly expired?: boolean;
  /** The file does not parse as a CRL (then every verification says so too). */
  readonly problem?: string;
}

/** A trust file as the page received it (drop or pick). */
export interface TrustFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

const isSource = (r: unknown): r is TrustSource => typeof (r as TrustSource)?.name === 'string' && typeof (r as TrustSource)?.text === 'string';

/**
 * Whether the installed app keeps a sample for offline use. The service worker precaches every
 * sample but `samples/big-*` (vite.config.ts globIgnores): 32 MiB in every install and update of
 * the app is too much for a demo of streaming progress. The page says so beside the sample.
 */
export const storedOffline = (file: string): boolean => !file.startsWith('big-');

/**
 * fetch, with a sentence instead of "Failed to fetch" when the network is gone: a sample that is
 * not stored offline says so, anything else says the app's server cannot be reached.
 */
export async function fetchFromApp(url: string, fetchFn: (url: string, init?: RequestInit) => Promise<Response> = (u, i) => fetch(u, i)): Promise<Response> {
  const file = url.split('/').pop() ?? url;
  let res: Response;
  try {
    // the big sample bypasses the HTTP cache: two reads of it at once (the report's and the
    // update's) would race to write one 32 MiB cache entry, and the loser's body fails mid-way
    res = await fetchFn(url, storedOffline(file) ? undefined : { cache: 'no-store' });
  } catch (e) {
    if (!storedOffline(file)) throw new Error(`${file} is not stored offline (only the small samples are): it needs the server TrustFlash is served from. Reconnect, or choose a local copy of the file.`);
    throw new Error(`${url} could not be fetched: the server cannot be reached (${(e as Error).message})`);
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}

/** The body of `fetchFromApp(url)`; a download cut off mid-way says so. */
export async function fetchBytesFromApp(url: string): Promise<ArrayBuffer> {
  const res = await fetchFromApp(url);
  try {
    return await res.arrayBuffer();
  } catch (e) {
    throw new Error(`the download of ${url} was cut off (${(e as Error).message}); try again`);
  }
}

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
  readonly #fetchText: (url: string) => Promise<string>;
  readonly #memory: TrustMemory | undefined;
  readonly #clock: () => Date;

  constructor(fetchText: (url: string) => Promise<string>, memory?: TrustMemory, clock: () => Date = () => new Date()) {
    this.#fetchText = fetchText;
    this.#memory = memory;
    this.#clock = clock;
    this.#recall();
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
      const v = JSON.parse(text) as Partial<StoredTrust>;
      if (v.version !== 1 || typeof v.useDemoRoot !== 'boolean' || !Array.isArray(v.roots) || v.roots.length > MAX_STORED_ROOTS || !v.roots.every(isSource)) {
        throw new Error(`an unknown format (version ${JSON.stringify(v.version)})`);
      }
      if (v.crls !== undefined && (!Array.isArray(v.crls) || v.crls.length > MAX_STORED_CRLS || !v.crls.every(isSource))) throw new Error('an unknown list of revocation lists');
      this.#useDemoRoot = v.useDemoRoot;
      this.#extraTrust = v.roots.map((r) => ({ name: r.name, text: r.text }));
      this.#crls = (v.crls ?? []).map((r) => ({ name: r.name, text: r.text }));
      const kept = [...v.roots, ...(v.crls ?? [])];
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
    const v: StoredTrust = { version: 1, useDemoRoot: this.#useDemoRoot, roots: this.#extraTrust, ...(this.#crls.length ? { crls: this.#crls } : {}) };
    try {
      this.#memory?.setItem(TRUST_KEY, JSON.stringify(v));
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
  }

  setUseDemoRoot(on: boolean) {
    this.#useDemoRoot = on;
    this.#remember();
  }
  setUseDevice(on: boolean) {
    this.#useDevice = on;
  }
  addTrust(src: TrustSource) {
    this.#extraTrust = [...this.#extraTrust.filter((t) => t.name !== src.name), src].slice(-MAX_STORED_ROOTS);
    this.#remember();
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
    for (const f of files) {
      const text = looksLikePem(f.bytes) ? new TextDecoder().decode(f.bytes) : undefined;
      if (text !== undefined && !parsePem(text).blocks.some((b) => b.label === 'X509 CRL')) this.addTrust({ name: f.name, text });
      else maybeCrls.push(f);
    }
    if (maybeCrls.length === 0) {
      this.#fileNote = undefined;
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
      this.#crls = [...this.#crls.filter((c) => c.name !== f.name), { name: f.name, text: text.value }].slice(-MAX_STORED_CRLS);
    }
    this.#fileNote = refused.length ? `Not added: ${refused.join('; ')}` : undefined;
    this.#remember();
    await this.#summarize();
  }

  removeCrl(name: string) {
    this.#crls = this.#crls.filter((c) => c.name !== name);
    this.#crlSummaries = this.#crlSummaries.filter((c) => c.name !== name);
    this.#remember();
  }

  async #summarize(): Promise<void> {
    if (this.#crls.length === 0) {
      this.#crlSummaries = [];
      return;
    }
    const { parseCrl, isoSeconds } = await import('../../core/crypto/crl.ts');
    const now = this.#clock().getTime();
    this.#crlSummaries = this.#crls.flatMap((c): CrlSummary[] => {
      const blocks = parsePem(c.text).blocks;
      if (blocks.length === 0) return [{ name: c.name, problem: 'no X509 CRL block' }];
      return blocks.map((b) => {
        const r = parseCrl(b.der);
        if (!r.ok) return { name: c.name, problem: r.reason };
        const v = r.value;
        return {
          name: c.name,
          issuer: v.issuer,
          thisUpdate: isoSeconds(v.thisUpdate),
          nextUpdate: isoSeconds(v.nextUpdate),
          ...(v.number !== undefined ? { number: v.number.toString() } : {}),
          revokedCount: v.revoked.length,
          expired: v.nextUpdate.getTime() < now,
        };
      });
    });
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
