/**
 * A circuit breaker in front of the quota store. After a failure the store is left alone for
 * `retryAfterMs`, so a store that is down costs requests nothing (no connect attempt, no
 * timeout each); then one call at a time tries it again, and its success closes the circuit.
 */
export class StoreCircuit {
  #openUntil: number | undefined;
  #probing = false;

  constructor(
    private readonly retryAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a call may use the store now; when true, report its outcome. */
  tryAcquire(): boolean {
    if (this.#openUntil === undefined) return true;
    if (this.#probing || this.now() < this.#openUntil) return false;
    this.#probing = true;
    return true;
  }

  /** The store answered. */
  succeeded(): void {
    this.#openUntil = undefined;
    this.#probing = false;
  }

  /** The store did not answer: leave it alone for a while. */
  failed(): void {
    this.#openUntil = this.now() + this.retryAfterMs;
    this.#probing = false;
  }

  /** Whether the store is being left alone (calls use their fallback). */
  get isOpen(): boolean {
    return this.#openUntil !== undefined;
  }
}
