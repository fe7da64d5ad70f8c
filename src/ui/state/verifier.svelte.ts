/**
 * Verification state for the page. Private $state fields, getters, methods as the only mutators;
 * the backend that does the work (a Worker in the page, something in-process in unit tests) comes
 * in through the constructor.
 */
import type { Report } from '../../core/verify/report.ts';
import type { DeviceIdentity } from '../../core/verify/verify-image.ts';
import type { CatalogForWorker, TrustSource, WorkerRequest, WorkerResponse } from '../worker/protocol.ts';

type Job = { kind: 'image'; file: Blob } | { kind: 'detached'; file: Blob; signature: Blob; certificates: TrustSource[] };

export interface VerifyBackend {
  post(req: WorkerRequest): void;
  onMessage(handler: (m: WorkerResponse) => void): void;
}

export interface Selection {
  readonly name: string;
  readonly size: number;
  readonly detail: string;
}

/** Classifies dropped files: an image, or firmware + detached signature (+ certificate PEM). */
export function classifyFiles(files: readonly File[]): { job?: Job; selection?: Selection; problem?: string } {
  if (files.length === 0) return { problem: 'no file was given' };
  const byExt = (re: RegExp) => files.filter((f) => re.test(f.name.toLowerCase()));
  const sigs = byExt(/\.(sig|p7s)$/);
  const pems = byExt(/\.(pem|crt|cer)$/);
  const rest = files.filter((f) => !sigs.includes(f) && !pems.includes(f));
  if (sigs.length === 0) {
    if (files.length > 1) return { problem: `drop one image, or firmware + .sig/.p7s + signer certificate (got ${files.length} files)` };
    const f = files[0]!;
    return { job: { kind: 'image', file: f }, selection: { name: f.name, size: f.size, detail: 'signed image' } };
  }
  if (sigs.length > 1 || rest.length !== 1) return { problem: 'detached mode needs exactly one firmware file and one .sig or .p7s' };
  const fw = rest[0]!;
  return {
    job: { kind: 'detached', file: fw, signature: sigs[0]!, certificates: [] },
    selection: { name: fw.name, size: fw.size, detail: `detached signature ${sigs[0]!.name}${pems.length ? ` + ${pems.map((p) => p.name).join(', ')}` : ''}` },
  };
}

export class VerifierState {
  #report = $state.raw<Report | undefined>(undefined);
  #selection = $state.raw<Selection | undefined>(undefined);
  #progress = $state.raw<{ done: number; total: number } | undefined>(undefined);
  #busy = $state(false);
  #error = $state<string | undefined>(undefined);
  #trustErrors = $state.raw<string[]>([]);
  #nextId = 1;
  #current = 0;
  #pending: ((m: WorkerResponse) => void) | undefined;
  readonly #backend: VerifyBackend;

  constructor(backend: VerifyBackend) {
    this.#backend = backend;
    backend.onMessage((m) => this.#onMessage(m));
  }

  get report() {
    return this.#report;
  }
  get selection() {
    return this.#selection;
  }
  get progress() {
    return this.#progress;
  }
  get busy() {
    return this.#busy;
  }
  get error() {
    return this.#error;
  }
  get trustErrors() {
    return this.#trustErrors;
  }

  #onMessage(m: WorkerResponse) {
    if (m.id !== this.#current && m.id !== -1) return; // an answer to a superseded request (-1: the Worker itself failed)
    if (m.kind === 'progress') this.#progress = { done: m.done, total: m.total };
    else {
      this.#busy = false;
      if (m.kind === 'report') {
        this.#report = m.report;
        this.#trustErrors = m.trustErrors;
      } else this.#error = m.message;
      this.#pending?.(m);
      this.#pending = undefined;
    }
  }

  /** Verifies dropped/picked files; the certificate PEM texts are read by the caller. */
  async verifyFiles(files: readonly File[], opts: { trust: TrustSource[]; device?: DeviceIdentity; certificateTexts?: TrustSource[]; production?: boolean; catalog?: CatalogForWorker }): Promise<void> {
    const c = classifyFiles(files);
    if (!c.job) {
      this.#error = c.problem;
      this.#report = undefined;
      this.#selection = undefined;
      return;
    }
    if (c.job.kind === 'detached') c.job.certificates = opts.certificateTexts ?? [];
    await this.#run(c.job, c.selection!, opts);
  }

  cancel() {
    if (this.#busy) this.#backend.post({ id: this.#current, kind: 'cancel' });
  }

  reset() {
    this.#report = undefined;
    this.#selection = undefined;
    this.#progress = undefined;
    this.#error = undefined;
    this.#busy = false;
  }

  #run(job: Job, selection: Selection, opts: { trust: TrustSource[]; device?: DeviceIdentity; production?: boolean; catalog?: CatalogForWorker }): Promise<void> {
    const id = this.#nextId++;
    this.#current = id;
    this.#report = undefined;
    this.#error = undefined;
    this.#progress = undefined;
    this.#selection = selection;
    this.#busy = true;
    const done = new Promise<void>((resolve) => {
      this.#pending = () => resolve();
    });
    const production = opts.production ? { production: true } : {};
    if (job.kind === 'image') this.#backend.post({ id, kind: 'image', file: job.file, trust: opts.trust, ...(opts.device ? { device: opts.device } : {}), ...(opts.catalog ? { catalog: opts.catalog } : {}), ...production });
    else this.#backend.post({ id, kind: 'detached', file: job.file, signature: job.signature, certificates: job.certificates, trust: opts.trust, ...production });
    return done;
  }
}

/** The page's backend: a module Worker, started on first use (it carries pkijs and hash-wasm; the first screen does not). */
export function workerBackend(): VerifyBackend {
  let w: Worker | undefined;
  let handler: ((m: WorkerResponse) => void) | undefined;
  const start = () => {
    if (w) return w;
    w = new Worker(new URL('../worker/verify-worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (e: MessageEvent<WorkerResponse>) => handler?.(e.data);
    w.onerror = (e) => handler?.({ id: -1, kind: 'error', message: `the verification worker failed: ${e.message}` });
    return w;
  };
  return {
    post: (req) => start().postMessage(req),
    onMessage: (h) => {
      handler = h;
    },
  };
}
