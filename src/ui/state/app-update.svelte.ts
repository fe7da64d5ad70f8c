/**
 * A new version of the app is announced, never swapped in behind the user's back (the service
 * worker waits; the user reloads when no update is running).
 */
export class AppUpdate {
  #available = $state(false);
  #apply: (() => Promise<void>) | undefined;

  get available() {
    return this.#available;
  }
  announce(apply: () => Promise<void>) {
    this.#apply = apply;
    this.#available = true;
  }
  async apply() {
    await this.#apply?.();
  }
}
