/**
 * The two rules the service worker (src/sw/sw.ts, threat T12, docs/release.md §3) applies beyond
 * "the manifest is signed and every file matches it", kept here because they are pure:
 *
 * - **No downgrade.** A validly signed *older* release (a stale mirror serving an old dist/ whole:
 *   its sw.js, files, manifest and signature) verifies like any other; only a comparison with the
 *   release already installed can refuse it. Versions are package.json's `major.minor.patch`,
 *   compared numerically. An equal version with another commit is a rebuild and is accepted:
 *   commits have no order a worker can judge, so the version is the unit of rollback protection
 *   (a fix that must not be rolled back ships with a higher version).
 * - **A cache miss is checked too.** A file the installed manifest lists that is missing from the
 *   cache (evicted, deleted) is fetched again, and served only if it matches its signed entry.
 */
import type { Result } from '../bytes/result.ts';
import { checkReleaseFile, type ReleaseFile, type ReleaseManifest } from './manifest.ts';

export type ReleaseVersion = readonly [major: number, minor: number, patch: number];

/** Three decimal numbers, no sign, no leading zero, no suffix: what the comparison can order. */
const VERSION = /^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$/;

/** A release's version as three numbers, or why it is not `major.minor.patch`. */
export function parseReleaseVersion(version: string): Result<ReleaseVersion> {
  const m = VERSION.exec(version);
  if (!m) return { ok: false, reason: `the version ${JSON.stringify(version.slice(0, 40))} is not major.minor.patch (three whole numbers)` };
  return { ok: true, value: [Number(m[1]), Number(m[2]), Number(m[3])] };
}

/** Negative when a is older than b, 0 when equal, positive when newer (numerically: 0.10.0 > 0.9.9). */
export function compareReleaseVersions(a: ReleaseVersion, b: ReleaseVersion): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** How an incoming release relates to what is installed. */
export type Succession = 'first' | 'upgrade' | 'rebuild' | 'same';

/**
 * Whether `incoming` may be installed over the releases found installed (the manifests in the
 * existing release caches: usually one, two while a checked version waits for "Reload to update").
 * It is judged against the highest of them. Fails closed: a version that cannot be compared,
 * incoming or installed, is refused with the reason.
 */
export function checkSuccession(installed: readonly ReleaseManifest['app'][], incoming: ReleaseManifest['app']): Result<Succession> {
  const next = parseReleaseVersion(incoming.version);
  if (!next.ok) return { ok: false, reason: `${next.reason}, so it cannot be compared with the installed release` };
  let highest: { app: ReleaseManifest['app']; version: ReleaseVersion } | undefined;
  for (const app of installed) {
    const v = parseReleaseVersion(app.version);
    if (!v.ok) return { ok: false, reason: `the installed release's version ${JSON.stringify(app.version.slice(0, 40))} is not major.minor.patch, so whether ${incoming.version} is older cannot be told` };
    if (!highest || compareReleaseVersions(v.value, highest.version) > 0 || (compareReleaseVersions(v.value, highest.version) === 0 && app.commit === incoming.commit)) {
      highest = { app, version: v.value };
    }
  }
  if (!highest) return { ok: true, value: 'first' };
  const order = compareReleaseVersions(next.value, highest.version);
  if (order < 0) {
    return { ok: false, reason: `version ${incoming.version} is older than the installed ${highest.app.version}: a signed older release (a stale mirror, a rollback) is not installed over a newer one` };
  }
  if (order > 0) return { ok: true, value: 'upgrade' };
  return { ok: true, value: highest.app.commit === incoming.commit ? 'same' : 'rebuild' };
}

/** The signed entry of a path the worker serves, or undefined when the manifest does not list it. */
export function releaseEntry(manifest: ReleaseManifest, path: string): ReleaseFile | undefined {
  return manifest.files.find((f) => f.path === path);
}

/**
 * A file fetched again after a cache miss, against the installed release's verified manifest: its
 * size and SHA-256 must be the signed ones. The reason says the server's copy was not used.
 */
export async function checkRefetchedFile(manifest: ReleaseManifest, path: string, bytes: Uint8Array): Promise<Result<ReleaseFile>> {
  const r = await checkReleaseFile(manifest, path, bytes);
  if (r.ok) return r;
  return { ok: false, reason: `${path} was missing from the offline cache, and the server's copy was not used: ${r.reason}` };
}
