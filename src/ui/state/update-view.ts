/**
 * What the update panel shows of a session, derived from what the device side reported: the
 * progress bar and its numbers, and who refused the image and what a person can do about it. Pure
 * functions of the reports (update.svelte.ts holds them).
 */
import type { Outcome, SessionProgress, SessionResult, StepState } from '../../core/update/session.ts';
import { mccError, mstflintBurnError } from '../../core/update/mcc-codes.ts';
import { formatBytes, formatDuration, formatRate, hex } from './format.ts';

/** Who refused the image, and what a person can do about it. */
export type Rejection =
  | { readonly by: 'host'; readonly check: string; readonly title: string; readonly reason: string }
  | { readonly by: 'device'; readonly code: string; readonly name: string; readonly mstflint: string; readonly sentence: string; readonly action: string; readonly fault: boolean };

export interface ProgressView {
  /** Bytes sent of the image, in percent (the bar and the numbers agree). */
  readonly percent: number;
  readonly bytes: string;
  readonly rate: string;
  /** "about 3 s left" while downloading; empty otherwise. */
  readonly eta: string;
  /** The phase when it is not the download ("Update component (erase the inactive bank)…"). */
  readonly phase: string | undefined;
}

export interface ProgressInput {
  /** The last progress report. */
  readonly progress: SessionProgress | undefined;
  /** The last report from inside the download (the later steps report no bytes). */
  readonly download: SessionProgress | undefined;
  /** The session's outcome, once it has ended. */
  readonly outcome: Outcome | undefined;
  /** The image's size, before any report. */
  readonly size: number;
  /** The step running now, while the session runs. */
  readonly running: StepState | undefined;
}

/**
 * One measure: the bar and the numbers are the bytes of the download (the steps around it carry
 * no bytes). While the device erases or verifies, the bar names that phase instead of showing a
 * frozen "0 B"; once the session has ended there is no ETA, only what was sent.
 */
export function progressView({ progress: p, download: d, outcome, size, running }: ProgressInput): ProgressView | undefined {
  if (!p && !outcome) return undefined;
  const total = d?.bytesTotal ?? p?.bytesTotal ?? size;
  const sent = d?.bytesSent ?? 0;
  const percent = total ? Math.floor((sent / total) * 100) : 0;
  const bytes = `${formatBytes(sent)} of ${formatBytes(total)} sent`;
  if (outcome) {
    // nothing was sent (refused by this host, cancelled before the download): no bar at all
    if (!d) return undefined;
    const failed = outcome !== 'updated';
    return { percent, bytes: failed && sent < total ? `${bytes} before it stopped` : bytes, rate: formatRate(d.rate), eta: '', phase: undefined };
  }
  if (running && running.id !== 'download') return { percent, bytes, rate: '', eta: '', phase: `${running.title}…` };
  return { percent, bytes, rate: d ? formatRate(d.rate) : '–', eta: !d || sent >= total ? '' : `about ${formatDuration(d.etaMs)} left`, phase: undefined };
}

/** Who refused the image: this host's failed check, or the device's MCC code (a fault of the device when the update failed). */
export function rejectionOf(r: SessionResult): Rejection | undefined {
  if (r.outcome === 'rejected-by-host' && r.report?.failed) return { by: 'host', check: r.report.failed.id, title: r.report.failed.title, reason: r.report.failed.reason };
  // the device's own answer: a refusal of the image, or (an update that failed) a fault of the device
  if ((r.outcome === 'rejected-by-device' || r.outcome === 'failed') && r.deviceError) {
    const e = mccError(r.deviceError.code);
    return { by: 'device', code: hex(e.code), name: e.name, mstflint: mstflintBurnError(e.code), sentence: e.sentence, action: e.action, fault: r.outcome === 'failed' };
  }
  return undefined;
}

/** The device-signed receipt after an update (issue #14), as the outcome shows it: plain text only. */
export interface Attestation {
  readonly verified: boolean;
  /** "device-attested", or what stands in its place. */
  readonly label: string;
  /** What the device signed (serial, versions), when it sent a receipt that parsed. */
  readonly claims: string | undefined;
  readonly detail: string;
}

export function attestationOf(r: SessionResult): Attestation | undefined {
  const o = r.receipt;
  if (!o) return undefined;
  const f = o.fields;
  const said = f ? `${f.serial} (PSID ${f.psid}) runs ${f.runningVersion}${f.pendingVersion ? `, ${f.pendingVersion} pending` : ''}, fused security version ${f.fusedSvn}` : undefined;
  // an unverified receipt's fields are what anyone could have written: say so before repeating them
  const claims = said && !o.verified ? `what it claims, not to be trusted: ${said}` : said;
  // verified: the claims are the detail already; say what vouches for them instead
  const detail = o.verified ? `Signed by the NIC's own attestation key over this session's fresh nonce; its certificate is from "${o.deviceCa ?? 'the device CA'}".` : o.detail;
  return { verified: o.verified, label: o.verified ? 'device-attested' : o.bytes ? 'receipt not verified' : 'no receipt', claims, detail };
}
