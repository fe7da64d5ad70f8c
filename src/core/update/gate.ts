/**
 * Step / Run / Cancel (DESIGN.md "the app": the update panel's three buttons), as the session sees
 * them: before each step the session asks the gate whether to go on. In 'run' mode the gate opens at
 * once; in 'step' mode each Step is one credit and, without one, the session waits until Step, Run or
 * Cancel arrives. A Cancel holds from the moment it is given, also before the first step and while
 * the session is between gates (the session reads `cancelled` between download blocks).
 *
 * The gate holds no I/O. `beforeStep` is where its owner may use the bus while the session is
 * paused between steps (the page refreshes its device panel there).
 */
import type { StepId } from './session.ts';

export type RunMode = 'step' | 'run';
export type GateAnswer = 'continue' | 'cancel';

/** What the session needs from a gate (StepGate, or a test's own). */
export interface Gate {
  /** Resolves when the session may enter `next`; `waiting` is told when it has to wait, and null when it goes on. */
  pass(next: StepId, waiting?: (next: StepId | null) => void): Promise<GateAnswer>;
  /** True once Cancel was given: the session stops at its next opportunity. */
  readonly cancelled: boolean;
}

export interface StepGateOptions {
  /** 'step': pause before each step; 'run': straight through. Default 'run'. */
  readonly mode?: RunMode;
  /** Steps granted up front (Step starts a session and takes its first step: 1). Default 1 in 'step' mode. */
  readonly credits?: number;
  /** Run at each gate before the answer, while the session is paused between steps. */
  readonly beforeStep?: (next: StepId) => Promise<void>;
}

export class StepGate implements Gate {
  #mode: RunMode;
  #credits: number;
  #cancelled = false;
  #resume: ((a: GateAnswer) => void) | undefined;
  #waitingFor: StepId | undefined;
  readonly #beforeStep: ((next: StepId) => Promise<void>) | undefined;

  constructor(opts: StepGateOptions = {}) {
    this.#mode = opts.mode ?? 'run';
    this.#credits = opts.credits ?? (this.#mode === 'step' ? 1 : 0);
    if (!Number.isSafeInteger(this.#credits) || this.#credits < 0) throw new RangeError(`"credits" expected a whole number ≥ 0, got ${opts.credits}`);
    this.#beforeStep = opts.beforeStep;
  }

  get mode(): RunMode {
    return this.#mode;
  }
  get cancelled(): boolean {
    return this.#cancelled;
  }
  /** The step the session is paused before, if it is paused. */
  get waitingFor(): StepId | undefined {
    return this.#waitingFor;
  }

  /** One more step: resumes a paused session, or lets the next gate open without pausing. */
  step(): void {
    if (this.#resume) this.#answer('continue');
    else this.#credits++;
  }

  /** Straight through from here on. */
  run(): void {
    this.#mode = 'run';
    if (this.#resume) this.#answer('continue');
  }

  /** Stop: a paused session is answered at once, a running one at its next gate or block. */
  cancel(): void {
    this.#cancelled = true;
    if (this.#resume) this.#answer('cancel');
  }

  async pass(next: StepId, waiting?: (next: StepId | null) => void): Promise<GateAnswer> {
    if (this.#cancelled) return 'cancel';
    if (this.#beforeStep) await this.#beforeStep(next);
    if (this.#cancelled) return 'cancel';
    if (this.#mode === 'run') return 'continue';
    if (this.#credits > 0) {
      this.#credits--;
      return 'continue';
    }
    this.#waitingFor = next;
    waiting?.(next);
    const answer = await new Promise<GateAnswer>((resolve) => (this.#resume = resolve));
    waiting?.(null);
    return answer;
  }

  #answer(a: GateAnswer): void {
    const resume = this.#resume;
    this.#resume = undefined;
    this.#waitingFor = undefined;
    resume?.(a);
  }
}
