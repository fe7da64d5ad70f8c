/**
 * One firmware selection for the whole page: the file a person picks (a sample, a dropped file, or
 * the one a demo scenario uses) is the file the pre-flight report describes AND the file an update
 * sends. The report is checked against the identity the selected device reports (its QUERY), or,
 * before any device answered, against the demo NIC's factory identity.
 */
import { identityFromQuery } from '../../core/update/device-identity.ts';
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';
import type { DevicesState } from './devices.svelte.ts';
import type { Scenario } from './scenarios.ts';
import type { SampleEntry, SetupState } from './setup.svelte.ts';
import type { UpdateState } from './update.svelte.ts';
import type { VerifierState } from './verifier.svelte.ts';

export interface FlowOptions {
  readonly verifier: VerifierState;
  readonly setup: SetupState;
  readonly update: UpdateState;
  readonly devices: DevicesState;
}

export class FirmwareFlow {
  /** Bumped at every pick of a sample or a file: the page moves focus to the new report. */
  #picks = $state(0);
  #fetchError = $state<string | undefined>(undefined);
  readonly #o: FlowOptions;

  constructor(opts: FlowOptions) {
    this.#o = opts;
    // a trust bundle whose administrator set production mode turns it on, and the selection is checked again
    opts.setup.onBundleProduction = () => this.setProduction(true);
  }

  get picks() {
    return this.#picks;
  }
  /** Why the last sample could not be fetched (offline, and not stored offline), if it could not. */
  get fetchError() {
    return this.#fetchError;
  }

  /** The identity the report is checked against: the selected device's, else the demo NIC's (unless turned off). */
  get identity(): DeviceIdentity | undefined {
    const { setup, devices } = this.#o;
    if (!setup.useDevice) return undefined;
    const q = devices.query;
    // the same identity the update's own pre-flight uses, so the report predicts the update
    return q?.psid ? identityFromQuery(q) : setup.device;
  }

  /** What the report was checked against, for a person. */
  get identitySource(): string {
    const { setup, devices } = this.#o;
    if (!setup.useDevice) return 'no device (device checks are skipped)';
    const q = devices.query;
    return q?.psid ? `${devices.selected?.kind === 'emulated' ? 'emulated NIC' : 'device'} ${devices.selectedSerial} (${q.psid}, running ${q.fwVersionRunning ?? '?'})` : "the demo NIC's factory identity";
  }

  /** A shipped sample: checked, and (if it is an image) the firmware the next update sends. */
  async pickSample(s: SampleEntry, opts: { focus?: boolean } = {}): Promise<void> {
    const { setup, update } = this.#o;
    if (opts.focus !== false) this.#picks++;
    const generation = ++this.#generation;
    if (s.kind === 'image' && !update.running) update.choose({ kind: 'sample', file: s.file, title: s.title });
    this.#fetchError = undefined;
    let got: Awaited<ReturnType<SetupState['sampleFiles']>>;
    try {
      got = await setup.sampleFiles(s);
    } catch (e) {
      if (generation === this.#generation) this.#fetchError = (e as Error).message;
      return;
    }
    await this.#verify(got.files, got.certificateTexts, generation);
  }

  /** Dropped or picked files: certificate PEMs go to the check; one image also becomes the update's firmware. */
  async pickFiles(list: readonly File[]): Promise<void> {
    const files = Array.from(list);
    if (files.length === 0) return;
    this.#picks++;
    this.#fetchError = undefined;
    const generation = ++this.#generation;
    const pems = files.filter((f) => /\.(pem|crt|cer)$/i.test(f.name));
    const certificateTexts = await Promise.all(pems.map(async (f) => ({ name: f.name, text: await f.text() })));
    const rest = files.filter((f) => !pems.includes(f));
    const image = rest.length === 1 && !/\.(sig|p7s)$/i.test(rest[0]!.name) && !rest.some((f) => /\.(sig|p7s)$/i.test(f.name)) ? rest[0] : undefined;
    if (image && !this.#o.update.running) this.#o.update.choose({ kind: 'file', file: image });
    await this.#verify(rest, certificateTexts, generation);
  }

  /**
   * A demo scenario, on the dedicated demo NIC (made on first use; a person's own NICs are never
   * reset by a demo): the NIC is factory-reset first (factory image, nothing pending, no fault, no
   * other host), so every scenario shows its own lesson whatever ran before; the scenario's sample
   * becomes the selection (report and update); its faults are armed for this run only and cleared
   * afterwards, so nothing a demo armed outlives it.
   */
  async runScenario(s: Scenario): Promise<void> {
    const { setup, update, devices } = this.#o;
    // demo scenarios run on the demo NIC with demo keys: production mode hides and refuses them
    if (update.running || this.#demoRunning || setup.production) return;
    this.#demoRunning = true;
    try {
      const serial = await devices.useDemoNic();
      if (!serial) return;
      if (!(await devices.factoryReset())) return;
      const generation = ++this.#generation;
      const sample = setup.samples.find((x) => x.file === s.file);
      // no focus move to the report here: a scenario's result is the update's outcome box
      const run = update.runScenario(s);
      if (sample) {
        const { files, certificateTexts } = await setup.sampleFiles(sample);
        await this.#verify(files, certificateTexts, generation);
      }
      await run;
      if (s.faults.length) await devices.setFaults([]);
    } finally {
      this.#demoRunning = false;
    }
  }

  #demoRunning = false;

  /** Each pick's number: a pick whose files arrive after a newer pick's never replaces its report. */
  #generation = 0;

  /** The last selection's files, so a change of production mode checks the same files again. */
  #lastInput: { files: File[]; certificateTexts: { name: string; text: string }[] } | undefined;

  /**
   * Production mode on or off (the switch at the top of the page): remembered by the setup, and the
   * current selection checked again under the new rule, so the report never shows the old one.
   */
  async setProduction(on: boolean): Promise<void> {
    this.#o.setup.setProduction(on);
    const last = this.#lastInput;
    if (last) await this.#verify(last.files, last.certificateTexts, ++this.#generation);
  }

  async #verify(files: File[], certificateTexts: { name: string; text: string }[], generation: number): Promise<void> {
    const { setup, verifier } = this.#o;
    this.#lastInput = { files, certificateTexts };
    await setup.whenReady();
    if (generation !== this.#generation) return;
    const device = this.identity;
    const catalog = setup.catalog?.forVerify;
    await verifier.verifyFiles(files, { trust: setup.trust, ...(device ? { device } : {}), certificateTexts, ...(catalog ? { catalog } : {}), ...(setup.production ? { production: true } : {}) });
  }
}
