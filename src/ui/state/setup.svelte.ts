/**
 * What the checks are made against: the trust store (the demo root by default, plus PEM files the
 * user adds) and the target device identity (the emulated NIC's by default). Loaded from the
 * app's own origin; fetchText comes in through the constructor.
 */
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';
import type { TrustSource } from '../worker/protocol.ts';

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

/** The stored shape, versioned: an older or unknown one is set aside with a message, never half-read. */
interface StoredTrust {
  readonly version: 1;
  readonly useDemoRoot: boolean;
  readonly roots: readonly TrustSource[];
}
export const TRUST_KEY = 'trustflash.trust';
const MAX_STORED_ROOTS = 32;

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
  readonly #fetchText: (url: string) => Promise<string>;
  readonly #memory: TrustMemory | undefined;

  constructor(fetchText: (url: string) => Promise<string>, memory?: TrustMemory) {
    this.#fetchText = fetchText;
    this.#memory = memory;
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
      if (v.version !== 1 || typeof v.useDemoRoot !== 'boolean' || !Array.isArray(v.roots) || v.roots.length > MAX_STORED_ROOTS || !v.roots.every((r) => typeof r?.name === 'string' && typeof r?.text === 'string')) {
        throw new Error(`an unknown format (version ${JSON.stringify(v.version)})`);
      }
      this.#useDemoRoot = v.useDemoRoot;
      this.#extraTrust = v.roots.map((r) => ({ name: r.name, text: r.text }));
      if (v.roots.length) this.#trustNote = `Remembered on this computer: ${v.roots.map((r) => r.name).join(', ')}.`;
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
    const v: StoredTrust = { version: 1, useDemoRoot: this.#useDemoRoot, roots: this.#extraTrust };
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
  get trust(): TrustSource[] {
    return [...(this.#useDemoRoot && this.#demoRoot ? [this.#demoRoot] : []), ...this.#extraTrust];
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
