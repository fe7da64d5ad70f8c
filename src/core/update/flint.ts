/**
 * `flint q` as mstflint prints it (reference §3): the QUERY answer rendered for people, with
 * flint's version and date spellings, so mstfwreset-style parsing of our output works.
 */
import { parseVersion } from '../image/version.ts';
import type { DeviceQuery, SecurityAttributes } from './query.ts';
// ---- `flint q` ---------------------------------------------------------------------------------------

const LABEL_WIDTH = 23;

/** flint's version format: "%d.%d.%04d", or "%d.%04d.%04d" when minor ≥ 100 (§3). */
export function flintVersion(v: string): string {
  const t = parseVersion(v);
  if (!t) return v;
  const four = (n: number) => String(n).padStart(4, '0');
  return `${t[0]}.${t[1] >= 100 ? four(t[1]) : t[1]}.${four(t[2])}`;
}

/** flint's "Security Attributes" value (printSecurityAttrInfo, §3): "secure-fw" or "signed-fw" or "N/A", then ", dev", ", cs-token". */
export function securityAttributesText(a: SecurityAttributes): string {
  const first = a.secureFw ? 'secure-fw' : a.signedFw ? 'signed-fw' : undefined;
  if (!first) return 'N/A';
  return [first, ...(a.dev ? ['dev'] : []), ...(a.csToken ? ['cs-token'] : [])].join(', ');
}

/** "d.m.yyyy" from seconds (UTC): flint prints the BCD day.month.year with "%x.%x.%x" (§3). */
export function flintDate(secondsSinceEpoch: number): string {
  const d = new Date(secondsSinceEpoch * 1000);
  if (Number.isNaN(d.getTime())) return 'N/A';
  return `${d.getUTCDate()}.${d.getUTCMonth() + 1}.${d.getUTCFullYear()}`;
}

/**
 * Renders a QUERY answer the way `flint -d <dev> q` prints a FW-controlled device (reference §3):
 * labels in a 23-character column; "FW Version" is the pending version when there is one, and
 * "FW Version(Running)" appears only when it differs (mstfwreset parses exactly this). `full`
 * adds the `q full` lines this device has. Lines flint prints that this device has no data for
 * (Image type, Product Version, Rom Info, GUID counts) are left out rather than made up.
 */
export function renderFlintQuery(q: DeviceQuery, opts: { full?: boolean } = {}): string {
  const lines: string[] = [];
  const line = (label: string, value: string) => lines.push(`${`${label}:`.padEnd(LABEL_WIDTH)}${value}`);
  const running = q.fwVersionRunning;
  const pending = q.fwVersionPending;
  const shown = pending ?? running;
  line('FW Version', shown ? flintVersion(shown) : 'N/A');
  const pendingDiffers = pending !== undefined && running !== undefined && pending !== running;
  if (pendingDiffers) line('FW Version(Running)', flintVersion(running));
  // the date is the running image's: under a different pending version flint would show the pending one's, which the device does not report
  if (q.fwReleaseDate !== undefined && !pendingDiffers) line('FW Release Date', flintDate(q.fwReleaseDate));
  if (opts.full) {
    if (q.partNumber !== undefined) line('Part Number', q.partNumber);
    if (q.description !== undefined) line('Description', q.description);
  }
  if (q.baseGuid !== undefined) line('Base GUID', q.baseGuid);
  if (q.baseMac !== undefined) line('Base MAC', q.baseMac);
  line('Image VSD', 'N/A');
  line('Device VSD', q.deviceVsd ? (q.deviceVsd.text ?? `0x${q.deviceVsd.hex}`) || 'N/A' : 'N/A');
  line('PSID', q.psid ?? 'N/A');
  line('Security Attributes', q.securityAttributes ? securityAttributesText(q.securityAttributes) : 'N/A');
  if (opts.full) {
    line('Default Update Method', 'fw_ctrl');
    if (q.efuseSecurityVer !== undefined) line('EFUSE Security Ver', String(q.efuseSecurityVer));
    if (q.imageSecurityVer !== undefined) line('Image Security Ver', String(q.imageSecurityVer));
    line('Security Ver Program', 'Automatically');
  }
  return lines.join('\n');
}
