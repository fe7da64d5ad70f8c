/**
 * Issuing a complete v2 CRL (RFC 5280 §5), as `openssl ca -gencrl` does, for release engineers
 * (`trustflash crl`): issuer = the CA certificate's subject, authorityKeyIdentifier and cRLNumber
 * extensions, one entry per revoked serial with its CRLReason (omitted for "unspecified", as
 * §5.3.1 recommends). Entries are sorted by serial, so the same inputs and dates give the same
 * bytes (RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic).
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { fromHex } from '../bytes/hex.ts';
import { normalizeSerialHex, parseCrl, REASON_CODE, type Crl } from './crl.ts';
import type { Certificate } from './x509.ts';

export interface CrlEntryRequest {
  /** The serial, as hex (any leading zeros). */
  readonly serialHex: string;
  readonly revocationDate: Date;
  /** A CRLReason code (crl.ts CRL_REASON); undefined or 0 writes no reasonCode. */
  readonly reason?: number;
}

export interface CrlRequest {
  readonly issuer: Certificate;
  readonly privateKey: CryptoKey;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly number: bigint;
  readonly revoked: readonly CrlEntryRequest[];
}

/** RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050. */
const time = (d: Date) => new pkijs.Time({ type: d.getUTCFullYear() >= 2050 ? 1 : 0, value: d });

function ext(extnID: string, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical: false, extnValue: value.toBER(false) });
}

/** A non-negative INTEGER from hex, minimal DER (a 00 octet only before a high bit). */
function unsignedInteger(hex: string): asn1js.Integer {
  let h = hex.replace(/^(00)+/, '') || '00';
  if (h.length % 2) h = `0${h}`;
  if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  return new asn1js.Integer({ valueHex: fromHex(normalizeSerialHex(h)).slice().buffer });
}

export async function makeCrl(req: CrlRequest): Promise<Crl> {
  if (req.nextUpdate.getTime() <= req.thisUpdate.getTime()) throw new RangeError(`"nextUpdate" expected a time after thisUpdate ${req.thisUpdate.toISOString()}, got ${req.nextUpdate.toISOString()}`);
  if (req.number < 0n || req.number >= 2n ** 159n) throw new RangeError(`"number" expected 0 ≤ n < 2^159 (RFC 5280 §5.2.3: 20 octets), got ${req.number}`);
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1; // v2
  crl.issuer = req.issuer.pki.subject;
  crl.thisUpdate = time(req.thisUpdate);
  crl.nextUpdate = time(req.nextUpdate);
  const value = (e: CrlEntryRequest) => BigInt(`0x${e.serialHex || '0'}`);
  const entries = [...req.revoked].sort((a, b) => (value(a) < value(b) ? -1 : value(a) > value(b) ? 1 : 0));
  for (let i = 1; i < entries.length; i++) if (value(entries[i]!) === value(entries[i - 1]!)) throw new RangeError(`"revoked" expected each serial once, got 0x${entries[i]!.serialHex} twice`);
  // the empty list is left out, not written as an empty SEQUENCE (§5.1.2.6)
  if (entries.length) {
    crl.revokedCertificates = entries.map(
      (e) =>
        new pkijs.RevokedCertificate({
          userCertificate: unsignedInteger(e.serialHex),
          revocationDate: time(e.revocationDate),
          ...(e.reason !== undefined && e.reason !== REASON_CODE.unspecified
            ? { crlEntryExtensions: new pkijs.Extensions({ extensions: [ext('2.5.29.21', new asn1js.Enumerated({ value: e.reason }))] }) }
            : {}),
        }),
    );
  }
  const extensions: pkijs.Extension[] = [];
  if (req.issuer.ski) extensions.push(ext('2.5.29.35', new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: req.issuer.ski.slice().buffer }) }).toSchema()));
  extensions.push(ext('2.5.29.20', unsignedInteger(req.number.toString(16))));
  crl.crlExtensions = new pkijs.Extensions({ extensions });
  await crl.sign(req.privateKey, 'SHA-256');
  const parsed = parseCrl(new Uint8Array(crl.toSchema(true).toBER(false)));
  if (!parsed.ok) throw new Error(`generated CRL does not parse: ${parsed.reason}`);
  return parsed.value;
}
