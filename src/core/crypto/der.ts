/**
 * Strict DER parsing of untrusted bytes, in one place. asn1js.fromBER can throw on malformed input
 * (found by the tamper matrix: a corrupt GeneralizedTime nested in a BIT STRING), so it is always
 * called inside a try here. DER is canonical: the bytes must be one structure with nothing after
 * it, and re-encoding must reproduce them exactly (rejects BER length tricks, as in BERserk).
 */
import * as asn1js from 'asn1js';
import { equalBytes } from '../bytes/hex.ts';

export function parseDer(der: Uint8Array): asn1js.AsnType | undefined {
  try {
    const p = asn1js.fromBER(der as Uint8Array<ArrayBuffer>);
    if (p.offset !== der.length || p.result.error) return undefined;
    return equalBytes(new Uint8Array(p.result.toBER(false)), der) ? p.result : undefined;
  } catch {
    return undefined;
  }
}

/** Like parseDer, but without the re-encoding check (for structures we only read a field from). */
export function parseBer(der: Uint8Array): asn1js.AsnType | undefined {
  try {
    const p = asn1js.fromBER(der as Uint8Array<ArrayBuffer>);
    return p.offset === der.length && !p.result.error ? p.result : undefined;
  } catch {
    return undefined;
  }
}
