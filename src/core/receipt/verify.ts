/**
 * Checks a device-signed receipt (issue #14) offline, from any machine: parse (receipt.ts) → the
 * device certificate chains to a trusted device CA → the receipt is signed by that certificate's key
 * over the exact body bytes → the certificate names the device the receipt names (serial and PSID)
 * → the nonce is the one the host chose → optionally, the device is the one expected. The verdict
 * starts as "refused" and has one exit. What a receipt proves, and what it does not:
 * docs/threat-model.md ("Device receipts").
 */
import { equalBytes } from '../bytes/hex.ts';
import { parseCertificate, validateChain, type Certificate } from '../crypto/x509.ts';
import { verifySignature } from '../crypto/signature.ts';
import { SIG_ALG } from '../image/layout.ts';
import { parseReceipt, type Receipt } from './receipt.ts';

/** X.520 attribute types a device certificate's subject carries (docs/protocol.md §8.10). */
export const DEVICE_SUBJECT = { serialNumber: '2.5.4.5', psid: '2.5.4.11' } as const;

export interface ReceiptCheck {
  /** Trusted device CA certificates. */
  readonly anchors: readonly Certificate[];
  /** Time the certificates must be valid at. */
  readonly time: Date;
  /** The nonce this host sent; without it freshness is not checked (and the result says so). */
  readonly nonce?: Uint8Array;
  /** The device serial the receipt must come from. */
  readonly serial?: string;
}

export type ReceiptVerdict =
  | { readonly ok: true; readonly receipt: Receipt; readonly device: Certificate; readonly anchor: Certificate; readonly notes: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly receipt?: Receipt };

function subjectValue(c: Certificate, oid: string): string | undefined {
  const values = c.pki.subject.typesAndValues.filter((tv) => tv.type === oid);
  if (values.length !== 1) return undefined;
  const v = (values[0]!.value.valueBlock as { value?: unknown }).value;
  return typeof v === 'string' ? v : undefined;
}

export async function verifyReceipt(bytes: Uint8Array, check: ReceiptCheck): Promise<ReceiptVerdict> {
  const parsed = parseReceipt(bytes);
  if (!parsed.ok) return { ok: false, reason: `not a valid receipt: ${parsed.error.field} at offset ${parsed.error.offset}: ${parsed.error.message}` };
  const receipt = parsed.value;
  const refuse = (reason: string): ReceiptVerdict => ({ ok: false, reason, receipt });

  const cert = await parseCertificate(receipt.certificate);
  if (!cert.ok) return refuse(`the device certificate does not parse: ${cert.reason}`);
  const device = cert.value;
  if (check.anchors.length === 0) return refuse('no device CA to check the device certificate against (pass the device CA certificate)');
  const chain = await validateChain(device, [], check.anchors, { time: check.time, ekuMustBePresent: false, maxLength: 2 });
  if (!chain.ok) return refuse(`the device certificate is not from a trusted device CA: ${chain.reason}`);
  if (device.isCA) return refuse(`the device certificate "${device.subject}" is a CA certificate, not a device's`);

  const sig = await verifySignature(SIG_ALG.RSA_PKCS1_SHA256, device.spki, receipt.signature, receipt.body);
  if (!sig.ok) return refuse(`the receipt is not signed by the device certificate's key: ${sig.reason} (a field was changed, or the signature is another device's)`);

  const certSerial = subjectValue(device, DEVICE_SUBJECT.serialNumber);
  const certPsid = subjectValue(device, DEVICE_SUBJECT.psid);
  if (certSerial !== receipt.serial) return refuse(`the receipt names device ${JSON.stringify(receipt.serial)}, its certificate is for ${certSerial === undefined ? 'no single serial number' : JSON.stringify(certSerial)}`);
  if (certPsid !== receipt.psid) return refuse(`the receipt names PSID ${JSON.stringify(receipt.psid)}, its certificate is for ${certPsid === undefined ? 'no single PSID' : JSON.stringify(certPsid)}`);
  if (check.serial !== undefined && check.serial !== receipt.serial) return refuse(`the receipt is from device ${JSON.stringify(receipt.serial)}, not the expected ${JSON.stringify(check.serial)}`);

  const notes: string[] = [];
  if (check.nonce) {
    if (!equalBytes(check.nonce, receipt.nonce)) return refuse('the receipt answers another nonce: it is not the answer to this request (an old or replayed receipt)');
  } else notes.push('freshness not checked: no expected nonce was given, so this receipt could be an old one');
  return { ok: true, receipt, device, anchor: chain.anchor, notes };
}
