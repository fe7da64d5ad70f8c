/**
 * Demo scenarios: one click runs an update of the dedicated demo NIC, reset to its factory state
 * first, with a sample image (and, for some, an injected fault armed for that run only), and a short
 * text says what protects the device. The expectations are what
 * the emulated NIC does; the e2e tests hold the app to them.
 */
import type { Fault } from '../../service/device-protocol.ts';

/** The PSID of the "other board" a second emulated NIC can be made for (wrong-psid.tfw is built for it). */
export const OTHER_PSID = 'MT_0000000999';

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** A sample in public/samples. */
  readonly file: string;
  /** Faults armed for this run only (replacing any armed by hand). */
  readonly faults: readonly Fault[];
  /** What protects the device, in two or three sentences. */
  readonly explanation: string;
  readonly expect: { readonly outcome: 'updated' | 'rejected-by-host' | 'rejected-by-device' | 'failed'; readonly check?: string; readonly deviceError?: number };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'signed',
    title: 'Signed update succeeds',
    file: 'good.tfw',
    faults: [],
    explanation:
      "The image is signed with the vendor key the NIC's running firmware embeds. The host checks it first; then the NIC itself verifies the RSA-2048 signature, the PSID, the version policy and the payload digest before it activates. The new image goes to the inactive bank and runs after a reset.",
    expect: { outcome: 'updated' },
  },
  {
    id: 'unsigned',
    title: 'Unsigned image rejected',
    file: 'unsigned.tfw',
    faults: [],
    explanation: 'Nothing vouches for an unsigned image. The host refuses it before a byte is sent; had it been sent, the NIC would answer REJECTED_UNSIGNED (0x06): secure firmware accepts signed images only.',
    expect: { outcome: 'rejected-by-host', check: 'key' },
  },
  {
    id: 'tampered',
    title: 'Tampered image rejected',
    file: 'tampered-payload.tfw',
    faults: [],
    explanation: 'One bit of the firmware was flipped after signing. The signed manifest carries the payload digest, so the change is caught by the host and, independently, by the NIC (REJECTED_DIGEST_ERR, 0x02).',
    expect: { outcome: 'rejected-by-host', check: 'payload' },
  },
  {
    id: 'wrong-device',
    title: 'Image for another board',
    file: 'wrong-psid.tfw',
    faults: [],
    explanation: "Validly signed, but for PSID MT_0000000999. The image names the boards it is for; this NIC's PSID is not among them, so it is refused (the NIC's code would be 0x03, not applicable). Add an emulated NIC for the other board to see it accepted there.",
    expect: { outcome: 'rejected-by-host', check: 'device' },
  },
  {
    id: 'forbidden',
    title: 'Forbidden version',
    file: 'forbidden-version.tfw',
    faults: [],
    explanation: 'Validly signed, but 28.38.1000 is on the FORBIDDEN_VERSIONS list of the firmware the NIC runs (a release withdrawn for a flaw). The NIC would answer 0x0F, forbidden version rejected.',
    expect: { outcome: 'rejected-by-host', check: 'forbidden' },
  },
  {
    id: 'downgrade',
    title: 'Downgrade below the security version',
    file: 'downgrade.tfw',
    faults: [],
    explanation: 'An old, validly signed release with security version 1; the NIC is at 2 (burnt into its fuses). Rolling back would reopen fixed vulnerabilities, so it is refused (the NIC would answer 0x19).',
    expect: { outcome: 'rejected-by-host', check: 'securityVersion' },
  },
  {
    id: 'power-loss',
    title: 'Power loss during the download',
    file: 'good.tfw',
    faults: [{ kind: 'power-loss', block: 3 }],
    explanation:
      'The power is cut half-way through writing block 3. The new image was going to the inactive bank, and the boot record still names the old one: the NIC reboots into the old firmware, which keeps running. Retry the update: it succeeds.',
    expect: { outcome: 'failed' },
  },
  {
    id: 'flash-error',
    title: 'Flash write fails',
    file: 'good.tfw',
    faults: [{ kind: 'flash-error', op: 'write' }],
    explanation: "A flash program fails during the download: a fault of the NIC, not a verdict on the image. The NIC reports it with its own MCC code (0x28, flash write protected); the host sends CANCEL and RELEASE, nothing is activated and the NIC keeps running its current image. The same image installs on a retry.",
    expect: { outcome: 'failed', deviceError: 0x28 },
  },
  {
    id: 'locked',
    title: 'Another host holds the lock',
    file: 'good.tfw',
    faults: [{ kind: 'locked-by-other' }],
    explanation: 'Another host (a BMC, say) holds the update handle. The NIC gives the handle to one host at a time, so two updates can never interleave. With a real second host, wait until its handle times out (60 s without a command from it). Here the demo lets the other host go afterwards (the demo NIC is power-cycled, which drops the lock from its RAM), so Retry succeeds.',
    expect: { outcome: 'failed' },
  },
];
