/**
 * What the service worker tells the open pages about a release it installs (src/sw/sw.ts), on a
 * BroadcastChannel: a page open while a new version is checked hears whether it was accepted,
 * or why it was refused; and a page of the installed version hears when a file missing from the
 * cache was fetched again and refused (`unverified`: the server's copy did not match the signed
 * manifest, and an error was served instead). Reasons are plain text; the page renders them as text only.
 */
export const RELEASE_CHANNEL = 'trustflash-release';

export type ReleaseMessage =
  | { readonly kind: 'verified'; readonly version: string; readonly commit: string; readonly digest: string }
  | { readonly kind: 'refused'; readonly version: string; readonly commit: string; readonly reason: string }
  | { readonly kind: 'unverified'; readonly version: string; readonly commit: string; readonly path: string; readonly reason: string };

/** A message from the channel, checked field by field (another script on the origin can post anything). */
export function parseReleaseMessage(data: unknown): ReleaseMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const str = (k: string) => (typeof d[k] === 'string' ? (d[k] as string).slice(0, 2000) : undefined);
  const version = str('version');
  const commit = str('commit');
  if (version === undefined || commit === undefined) return undefined;
  if (d.kind === 'verified') {
    const digest = str('digest');
    return digest === undefined ? undefined : { kind: 'verified', version, commit, digest };
  }
  if (d.kind === 'refused') {
    const reason = str('reason');
    return reason === undefined ? undefined : { kind: 'refused', version, commit, reason };
  }
  if (d.kind === 'unverified') {
    const path = str('path');
    const reason = str('reason');
    return path === undefined || reason === undefined ? undefined : { kind: 'unverified', version, commit, path, reason };
  }
  return undefined;
}
