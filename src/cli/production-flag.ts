/**
 * `--production` (issue #14): the one place the CLI decides production mode. Every command that
 * honours it calls `productionMode`, which is also where a trust bundle's production flag joins in
 * (`fromBundle`), so `--now` is refused the same way whichever turned production mode on.
 */
import { bool, str, UsageError, type Parsed } from './args.ts';

/**
 * Production mode for this command: `--production`, or the trust bundle's flag. With it, `--now`
 * (a check override) is a usage error naming both, before anything is read.
 */
export function productionMode(p: Parsed, fromBundle = false): boolean {
  const flag = bool(p, 'production');
  const on = flag || fromBundle;
  if (on && str(p, 'now') !== undefined) {
    const why = flag ? '--production' : 'production mode (set by the trust bundle)';
    throw new UsageError(`--now cannot be used with ${why}: production mode refuses check overrides and checks at this host's clock`);
  }
  return on;
}
