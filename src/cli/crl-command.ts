/** `trustflash crl`: a CA's certificate revocation list for release engineers (core/crypto/crl-issue.ts). */
import { equalBytes } from '../core/bytes/hex.ts';
import { parseIsoTime } from '../core/bytes/iso-time.ts';
import { CRL_REASON, isoSeconds, REASON_CODE, reasonName } from '../core/crypto/crl.ts';
import { makeCrl, type CrlEntryRequest } from '../core/crypto/crl-issue.ts';
import { toPem } from '../core/crypto/pem.ts';
import { bool, list, need, parseArgs, str, UsageError } from './args.ts';
import { loadCerts, loadKey } from './commands.ts';
import { flagSpec } from './help.ts';
import { IoError, type Io } from './io.ts';

const KU_CRL_SIGN = 1 << 6; // RFC 5280 §4.2.1.3 cRLSign

function isoFlag(p: ReturnType<typeof parseArgs>, name: string): Date | undefined {
  const s = str(p, name);
  if (s === undefined) return undefined;
  const r = parseIsoTime(s);
  if (!r.ok) throw new UsageError(`--${name} expects an ISO-8601 date such as 2026-11-22T00:00:00Z: ${r.reason}`);
  return new Date(r.seconds * 1000);
}

/** "0x2818…" or decimal digits → hex; anything else is not a serial. */
function serialHex(text: string): string | undefined {
  if (/^0x[0-9a-f]{1,40}$/i.test(text)) return text.slice(2).toLowerCase();
  if (/^[0-9]{1,49}$/.test(text)) return BigInt(text).toString(16);
  return undefined;
}

function reasonCode(text: string, arg: string): number {
  const code = Object.entries(REASON_CODE).find(([name]) => name.toLowerCase() === text.toLowerCase())?.[1];
  if (code === undefined || code === REASON_CODE.removeFromCRL) {
    const names = Object.values(CRL_REASON).filter((n) => n !== 'removeFromCRL');
    throw new UsageError(`--revoke ${arg}: "${text}" is not a revocation reason; one of ${names.join(', ')}`);
  }
  return code;
}

export async function cmdCrl(argv: string[], io: Io): Promise<number> {
  const p = parseArgs(argv, flagSpec('crl'));
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
  const out = need(p, 'out');
  if (bool(p, 'pem') && bool(p, 'der')) throw new UsageError('--pem and --der exclude each other');
  const numberText = str(p, 'crl-number');
  if (numberText === undefined) throw new UsageError('--crl-number N is required: each new CRL of a CA needs a higher number than the last (RFC 5280 §5.2.3), and verifiers use the highest');
  if (!/^[0-9]{1,48}$/.test(numberText)) throw new UsageError(`--crl-number must be a non-negative whole number, got ${JSON.stringify(numberText)}`);
  const number = BigInt(numberText);

  const thisUpdate = isoFlag(p, 'this-update') ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const next = isoFlag(p, 'next-update');
  const daysText = str(p, 'days');
  if (next && daysText !== undefined) throw new UsageError('--next-update and --days exclude each other');
  const days = Number(daysText ?? 30);
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new UsageError('--days must be a whole number of days, 1..3650');
  const nextUpdate = next ?? new Date(thisUpdate.getTime() + days * 86400_000);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) throw new UsageError(`--next-update ${isoSeconds(nextUpdate)} is not after --this-update ${isoSeconds(thisUpdate)}`);

  const caKeyPath = need(p, 'ca-key');
  const caCertPath = need(p, 'ca-cert');
  const [ca] = await loadCerts(io, [caCertPath]);
  const key = await loadKey(io, caKeyPath, str(p, 'passin'));
  if (!equalBytes(ca!.spki, key.spki)) throw new IoError(`${caCertPath}: the CA certificate is not for --ca-key`);
  if (!ca!.isCA) throw new IoError(`${caCertPath}: not a CA certificate (basicConstraints cA is not set)`);
  if (ca!.keyUsage !== undefined && !(ca!.keyUsage & KU_CRL_SIGN)) throw new IoError(`${caCertPath}: its keyUsage does not allow cRLSign, so verifiers would refuse its CRLs`);

  const revoked: CrlEntryRequest[] = [];
  for (const arg of list(p, 'revoke')) {
    // a file named exactly so is a certificate; otherwise WHAT[:REASON[:DATE]] (the date may hold colons)
    const [what, reasonText, ...dateParts] = (await io.exists(arg)) ? [arg] : arg.split(':');
    let hex = serialHex(what!);
    if (hex === undefined) {
      if (!(await io.exists(what!))) throw new UsageError(`--revoke ${arg}: "${what}" is neither a certificate file nor a serial number (0xHEX or decimal)`);
      const [cert] = await loadCerts(io, [what!]);
      if (!cert!.pki.issuer.isEqual(ca!.pki.subject)) throw new IoError(`--revoke ${arg}: "${cert!.subject}" was issued by "${cert!.issuer}", not by "${ca!.subject}": only its issuer's CRL can revoke it`);
      hex = cert!.serialHex;
    }
    const dateText = dateParts.join(':');
    let revocationDate = thisUpdate;
    if (dateText) {
      const r = parseIsoTime(dateText);
      if (!r.ok) throw new UsageError(`--revoke ${arg}: the date ${r.reason}`);
      revocationDate = new Date(r.seconds * 1000);
      if (revocationDate.getTime() > thisUpdate.getTime()) throw new UsageError(`--revoke ${arg}: revoked ${isoSeconds(revocationDate)}, after the CRL's --this-update ${isoSeconds(thisUpdate)}`);
    }
    const reason = reasonText ? reasonCode(reasonText, arg) : undefined;
    const padded = hex.length % 2 ? `0${hex}` : hex;
    if (revoked.some((r) => BigInt(`0x${r.serialHex}`) === BigInt(`0x${padded}`))) throw new UsageError(`--revoke ${arg}: serial 0x${padded} is already listed`);
    revoked.push({ serialHex: padded, revocationDate, ...(reason !== undefined ? { reason } : {}) });
  }

  const crl = await makeCrl({ issuer: ca!, privateKey: key.privateKey, thisUpdate, nextUpdate, number, revoked });
  await io.writeBytes(out, bool(p, 'der') ? crl.der : toPem('X509 CRL', crl.der), { overwrite: bool(p, 'force') });
  const listed = crl.revoked.map((r) => `0x${r.serialHex} (${reasonName(r.reason)})`).join(', ');
  io.out(
    `${out}: CRL number ${number} of "${ca!.subject}", ${bool(p, 'der') ? 'DER' : 'PEM'}, this update ${isoSeconds(thisUpdate)}, next update ${isoSeconds(nextUpdate)}, ${crl.revoked.length ? `revokes ${listed}` : 'revokes nothing'}`,
  );
  return 0;
}
