/**
 * The session's last word with the device (issue #14): after ACTIVATE and RELEASE it asks the NIC
 * for a receipt over a fresh random nonce and checks it against the device CA (core/receipt). A
 * receipt is evidence about the update, not part of it: a device that cannot sign one (no attestation
 * key, or a generic DFU device) or a receipt that does not verify is reported, and the update's
 * outcome stays what the device's own checks made it.
 */
import type { Certificate } from '../crypto/x509.ts';
import { UpdateError } from '../dfu/errors.ts';
import { armorReceipt, parseReceipt, receiptFields } from '../receipt/receipt.ts';
import { verifyReceipt } from '../receipt/verify.ts';
import { isDemoKeyId } from '../crypto/demo-keys.ts';
import { RECEIPT_NONCE_SIZE, type NicClient } from './nic-client.ts';

export interface ReceiptOutcome {
  /** The receipt as the device sent it; absent when it sent none. */
  readonly bytes?: Uint8Array;
  /** It verified: the device CA's certificate, the device's signature, this session's nonce, this device's serial. */
  readonly verified: boolean;
  /** One sentence: "device-attested: …", or why not. */
  readonly detail: string;
  /** The device CA the receipt's certificate chains to, when it verified. */
  readonly deviceCa?: string;
  /** The receipt's fields (receiptFields), when it parsed. */
  readonly fields?: Record<string, string | number | boolean | null>;
}

/** The outcome for a device that has no receipt support (a plain DFU peer). */
export const NO_RECEIPT_SUPPORT: ReceiptOutcome = { verified: false, detail: 'no receipt: a plain DFU device does not sign update receipts' };

export interface ReceiptRequest {
  /** Trusted device CAs; empty: the receipt is kept but cannot be verified. */
  readonly deviceCa: readonly Certificate[];
  /** The serial the session updated (from QUERY). */
  readonly serial: string | undefined;
  readonly time: Date;
  /**
   * The release digest of the image this session sent (the report's): an attested receipt must name
   * it as the pending release, or the device did not take this image.
   */
  readonly pendingRelease?: string;
  /** Production mode: a receipt certified by a DEMO device CA is kept but does not count as attested. */
  readonly production?: boolean;
  /** The nonce source; default crypto.getRandomValues. */
  readonly random?: (bytes: Uint8Array) => void;
}

/** Asks `nic` for a receipt and checks it. Never throws for the device's answer; a transport error is reported as "no receipt". */
export async function requestReceipt(nic: NicClient, req: ReceiptRequest): Promise<ReceiptOutcome> {
  const nonce = new Uint8Array(RECEIPT_NONCE_SIZE);
  (req.random ?? ((b) => void crypto.getRandomValues(b as Uint8Array<ArrayBuffer>)))(nonce);
  let answer: Awaited<ReturnType<NicClient['receipt']>>;
  try {
    answer = await nic.receipt(nonce);
  } catch (e) {
    if (!(e instanceof UpdateError)) throw e;
    return { verified: false, detail: `no receipt: ${e.message}` };
  }
  if (!answer.accepted) return { verified: false, detail: `no receipt: the device refused: ${answer.last?.text ?? 'it did not say why'}` };
  const parsed = parseReceipt(answer.bytes);
  const fields = parsed.ok ? receiptFields(parsed.value) : undefined;
  const withFields = fields ? { fields } : {};
  if (req.deviceCa.length === 0) return { bytes: answer.bytes, verified: false, detail: 'receipt kept, not verified: no device CA was given', ...withFields };
  const v = await verifyReceipt(answer.bytes, { anchors: req.deviceCa, time: req.time, nonce, ...(req.serial !== undefined ? { serial: req.serial } : {}) });
  if (!v.ok) return { bytes: answer.bytes, verified: false, detail: `receipt refused: ${v.reason}`, ...withFields };
  if (req.production && isDemoKeyId(v.anchor.keyId)) {
    return { bytes: answer.bytes, verified: false, detail: `receipt not counted in production mode: its certificate is by "${v.anchor.subject}", a DEMO device CA whose key anyone has (pass your own device CA)`, ...withFields };
  }
  const r = v.receipt;
  if (req.pendingRelease !== undefined && r.pendingDigest !== req.pendingRelease) {
    const said = r.pendingDigest ? `release digest ${r.pendingDigest}` : 'nothing pending';
    return { bytes: answer.bytes, verified: false, detail: `receipt refused: the device signed that ${said} is pending, not the image this session sent (release digest ${req.pendingRelease})`, ...withFields };
  }
  const versions = r.pendingVersion ? `running ${r.runningVersion}, pending ${r.pendingVersion}${req.pendingRelease !== undefined ? ' (the release this session sent)' : ''}` : `running ${r.runningVersion}`;
  return { bytes: answer.bytes, verified: true, detail: `device-attested: ${r.serial} (PSID ${r.psid}) signed that it is ${versions}, fused security version ${r.fusedSvn} (certificate by "${v.anchor.subject}")`, deviceCa: v.anchor.subject, ...withFields };
}

/** The receipt as the audit log keeps it: the armored bytes and the verdict. */
export function receiptAuditRecord(o: ReceiptOutcome): Record<string, unknown> {
  return { verified: o.verified, detail: o.detail, ...(o.fields ? { fields: o.fields } : {}), ...(o.bytes ? { receipt: armorReceipt(o.bytes) } : {}) };
}
