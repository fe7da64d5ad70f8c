/** The pre-flight report: one entry per check, and a verdict that starts as "reject". */
import type { Manifest } from '../image/layout.ts';
import type { BadBlock } from './block-check.ts';

export type CheckId =
  | 'size'
  | 'format'
  | 'key'
  | 'chain'
  | 'signature'
  | 'production'
  | 'nextKeys'
  | 'expiry'
  | 'forbidden'
  | 'device'
  | 'secured'
  | 'devImage'
  | 'securityVersion'
  | 'deviceKey'
  | 'fits'
  | 'pending'
  | 'catalog'
  | 'payload';

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface Check {
  readonly id: CheckId;
  readonly title: string;
  readonly status: CheckStatus;
  /** What was found, and for a failure what a person can do about it. */
  readonly reason: string;
}

export const CHECK_TITLES: Record<CheckId, string> = {
  size: 'File size',
  format: 'Image format',
  key: 'Signing key known',
  chain: 'Certificate chain',
  signature: 'Signature',
  production: 'Production mode',
  nextKeys: 'Next update possible (nextKeys)',
  expiry: 'Release date and expiry',
  device: 'Meant for this device',
  secured: 'Secured image',
  forbidden: 'Not a forbidden version',
  devImage: 'Development image allowed',
  securityVersion: 'Security version (no downgrade)',
  deviceKey: 'Signed by a key the device holds',
  fits: "Fits the device's flash bank",
  pending: 'No update already pending',
  catalog: 'Listed in the release catalog',
  payload: 'Payload digest',
};

/** Checks that must pass for any accept (the rest may be skipped, e.g. without a device). */
export const ESSENTIAL: readonly CheckId[] = ['size', 'format', 'key', 'signature', 'payload'];

export interface SignerInfo {
  readonly keyId: string;
  readonly via: 'trusted key' | 'certificate' | 'cms';
  readonly subject?: string;
  readonly anchor?: string;
  readonly demo: boolean;
}

export interface Report {
  readonly verdict: 'accept' | 'reject';
  readonly checks: readonly Check[];
  /** Present once the file parsed; authenticated only if the signature check passed. */
  readonly manifest?: Manifest;
  readonly signers: readonly SignerInfo[];
  /** Plain-language notices that are not failures: demo keys, development image, host-only verification. */
  readonly notices: readonly string[];
  readonly fileSize: number;
  /** SHA-256 of the payload as computed (hex), when it was computed (format v1). */
  readonly payloadSha256?: string;
  /** The image's format version, once the header parsed. */
  readonly formatVersion?: number;
  /**
   * The release digest: SHA-256 of header ‖ manifest (hex), the bytes every signature covers; in
   * format v2 it covers the hash-block table, so it names the whole release. Present once the head
   * parsed (authenticated only if the signature check passed).
   */
  readonly releaseDigest?: string;
  /** Format v2: the hash blocks that did not match the signed table (empty when all did). */
  readonly badBlocks?: readonly BadBlock[];
  /** False for detached signatures: the device will not verify the file itself. */
  readonly deviceVerifies: boolean;
  /** The first failed check, if any. */
  readonly failed?: Check;
  /** Checks run with an operator's override instead of their normal input (`--now`): shown and logged as overrides. */
  readonly overrides: readonly Override[];
}

/** An input a person replaced (the validation time): never a silent change of what a check means. */
export interface Override {
  readonly name: 'now';
  /** The value used instead ("2026-11-22T00:00:00.000Z"). */
  readonly value: string;
  /** What it changed, in a sentence. */
  readonly effect: string;
}

/** The override record for a validation time other than the host's clock. */
export function nowOverride(now: Date): Override {
  return { name: 'now', value: now.toISOString(), effect: "certificate validity, expiry and the release date were judged at this time, not at this host's clock" };
}

/** Collects checks in order; the verdict is computed once, at the end, starting from "reject". */
export class ReportBuilder {
  readonly #checks: Check[] = [];
  readonly notices: string[] = [];
  readonly signers: SignerInfo[] = [];
  readonly overrides: Override[] = [];

  add(id: CheckId, status: CheckStatus, reason: string): CheckStatus {
    this.#checks.push({ id, title: CHECK_TITLES[id], status, reason });
    return status;
  }
  pass(id: CheckId, reason: string): true {
    this.add(id, 'pass', reason);
    return true;
  }
  fail(id: CheckId, reason: string): false {
    this.add(id, 'fail', reason);
    return false;
  }
  skip(id: CheckId, reason: string): void {
    this.add(id, 'skipped', reason);
  }
  has(id: CheckId): boolean {
    return this.#checks.some((c) => c.id === id);
  }

  finish(rest: Omit<Report, 'verdict' | 'checks' | 'signers' | 'notices' | 'failed' | 'overrides'>, allOf: readonly CheckId[] = ESSENTIAL): Report {
    let verdict: Report['verdict'] = 'reject';
    const failed = this.#checks.find((c) => c.status === 'fail');
    const essentialPassed = allOf.every((id) => this.#checks.some((c) => c.id === id && c.status === 'pass'));
    if (!failed && essentialPassed) verdict = 'accept';
    return { ...rest, verdict, checks: this.#checks.slice(), signers: this.signers.slice(), notices: this.notices.slice(), overrides: this.overrides.slice(), ...(failed ? { failed } : {}) };
  }
}
