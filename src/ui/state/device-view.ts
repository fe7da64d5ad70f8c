/**
 * The `flint q` fields of a QUERY answer as label/value rows for the device panel. Values are plain
 * strings (the components render them as text). Labels follow flint's where flint has the field.
 */
import { bootStatusText } from '../../core/update/protocol.ts';
import { flintDate, renderFlintQuery, securityAttributesText } from '../../core/update/flint.ts';
import { type DeviceQuery } from '../../core/update/query.ts';
import { hex } from './format.ts';

export interface FieldRow {
  readonly id: string;
  readonly label: string;
  readonly value: string;
  /** Full value when `value` is shortened (key ids). */
  readonly title?: string;
}

const macText = (h: string) => (h.length === 12 ? h.match(/../g)!.join(':') : h);
const shortId = (h: string) => `${h.slice(0, 12)}…`;

export function deviceFields(q: DeviceQuery): FieldRow[] {
  const rows: FieldRow[] = [];
  const add = (id: string, label: string, value: string | undefined, title?: string) => {
    if (value !== undefined) rows.push({ id, label, value, ...(title ? { title } : {}) });
  };
  add('running', 'FW Version (running)', q.fwVersionRunning ?? 'N/A');
  add('pending', 'FW Version (pending)', q.fwVersionPending ?? 'none');
  add('psid', 'PSID', q.psid);
  add('device-id', 'Device ID', q.deviceId !== undefined ? `${q.deviceId} (${hex(q.deviceId, 4)})` : undefined);
  add('description', 'Description', q.description);
  add('part-number', 'Part Number', q.partNumber);
  add('serial', 'Serial', q.serial);
  add('base-mac', 'Base MAC', q.baseMac ? macText(q.baseMac) : undefined);
  add('base-guid', 'Base GUID', q.baseGuid);
  add('security', 'Security Attributes', q.securityAttributes ? securityAttributesText(q.securityAttributes) : undefined);
  add('svn', 'Security version (fused / image / min)', q.efuseSecurityVer !== undefined || q.imageSecurityVer !== undefined ? `${q.efuseSecurityVer ?? '?'} / ${q.imageSecurityVer ?? '?'} / ${q.minSecurityVer ?? '–'}` : undefined);
  if (q.keyIds) rows.push({ id: 'key-ids', label: 'Embedded key ids', value: q.keyIds.length ? q.keyIds.map(shortId).join(', ') : 'none', title: q.keyIds.join('\n') });
  add('forbidden', 'Forbidden versions', q.forbiddenVersions ? q.forbiddenVersions.join(', ') || 'none' : undefined);
  add(
    'banks',
    'Banks',
    q.banks ? `active ${q.banks.active} (${q.banks.lengths[q.banks.active]} bytes), pending ${q.banks.pending === null ? 'none' : `${q.banks.pending} (${q.banks.lengths[q.banks.pending]} bytes)`}` : undefined,
  );
  add('release-date', 'FW Release Date', q.fwReleaseDate !== undefined ? flintDate(q.fwReleaseDate) : undefined);
  add('vsd', 'Device VSD', q.deviceVsd ? (q.deviceVsd.text ?? `0x${q.deviceVsd.hex}`) || 'none' : undefined);
  add('boot', 'Last boot', q.bootStatus !== undefined ? bootStatusText(q.bootStatus) : undefined);
  if (q.resumable) rows.push({ id: 'kept-download', label: 'Kept download', value: `${q.resumable.verified} of ${q.resumable.size} bytes verified (release ${shortId(q.resumable.releaseDigest)})`, title: q.resumable.releaseDigest });
  return rows;
}

/** What `flint -d <dev> q full` would print for this device. */
export function flintText(q: DeviceQuery): string {
  return renderFlintQuery(q, { full: true });
}
