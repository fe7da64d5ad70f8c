/**
 * The app's own release, as the page shows it (threat T12, docs/release.md): the version and
 * commit fixed at build time, the release digest (SHA-256 of the signed release-manifest.json this
 * page came with), whether the service worker checked that manifest, and — when the service worker
 * refused a new release — why, so the person knows the running version stayed on purpose.
 * Everything here is rendered as text.
 */
import type { ReleaseBuildInfo } from '../../core/release/build-info.ts';
import { parseReleaseManifest, releaseDigest, RELEASE_MANIFEST_PATH } from '../../core/release/manifest.ts';
import { parseReleaseMessage } from '../../core/release/messages.ts';

export interface ReleaseDeps {
  /** The app's own file, through the service worker when one controls the page. */
  readonly fetchBytes: (url: string) => Promise<Uint8Array>;
  /** Whether a service worker controls this page (it verified the manifest before caching it). */
  readonly controlled: () => boolean;
}

export type DigestState =
  | { readonly kind: 'loading' }
  | { readonly kind: 'known'; readonly digest: string; readonly checkedBy: 'service-worker' | 'none' }
  | { readonly kind: 'unknown'; readonly why: string };

export class ReleaseState {
  readonly build: ReleaseBuildInfo;
  #deps: ReleaseDeps;
  #digest = $state<DigestState>({ kind: 'loading' });
  #refused = $state<{ version: string; commit: string; reason: string; running: boolean } | undefined>();
  #unverified = $state<{ path: string; reason: string } | undefined>();

  constructor(build: ReleaseBuildInfo, deps: ReleaseDeps) {
    this.build = build;
    this.#deps = deps;
  }

  get digest(): DigestState {
    return this.#digest;
  }
  /**
   * The last release the service worker refused, with its reason; cleared when one is accepted.
   * `running`: a checked version runs from the cache and stays; without it, nothing is stored offline.
   */
  get refused() {
    return this.#refused;
  }

  /**
   * The last file of this version the service worker refused to serve: missing from its cache,
   * and the server's copy did not match the signed manifest (an error was served in its place).
   */
  get unverified() {
    return this.#unverified;
  }

  /** Reads this page's release manifest and computes its digest; it must be this build's. */
  async load(): Promise<void> {
    try {
      const bytes = await this.#deps.fetchBytes(RELEASE_MANIFEST_PATH);
      const parsed = parseReleaseManifest(bytes);
      if (!parsed.ok) return void (this.#digest = { kind: 'unknown', why: `the release manifest cannot be read: ${parsed.reason}` });
      const { app } = parsed.value;
      if (app.version !== this.build.version || app.commit !== this.build.commit) {
        return void (this.#digest = { kind: 'unknown', why: `the server's release manifest is for ${app.version} (${app.commit}), not this page's build` });
      }
      this.#digest = { kind: 'known', digest: await releaseDigest(bytes), checkedBy: this.#deps.controlled() ? 'service-worker' : 'none' };
    } catch (e) {
      this.#digest = { kind: 'unknown', why: `the release manifest cannot be fetched (${(e as Error).message})` };
    }
  }

  /** A message from the service worker's channel (anything else is ignored). */
  onMessage(data: unknown): void {
    const m = parseReleaseMessage(data);
    if (!m) return;
    if (m.kind === 'refused') this.#refused = { version: m.version, commit: m.commit, reason: m.reason, running: this.#deps.controlled() };
    else if (m.kind === 'unverified') this.#unverified = { path: m.path, reason: m.reason };
    else this.#refused = undefined;
  }
}
