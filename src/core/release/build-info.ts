/**
 * What the build pins into the page and the service worker (`__TRUSTFLASH_RELEASE__`, defined by
 * scripts/release-plugin.ts): the app's name, version and commit, and the release key the service
 * worker checks the next release's manifest with. Fixed at build time; nothing here is fetched.
 */
export interface ReleaseBuildInfo {
  readonly name: string;
  readonly version: string;
  /** git commit (with "-dirty" for a tree that differs from it), or "unknown". */
  readonly commit: string;
  /** The release key's SubjectPublicKeyInfo, base64 DER. */
  readonly keySpki: string;
  /** The committed demo release key (its private half is public): the page says so. */
  readonly demoKey: boolean;
}
