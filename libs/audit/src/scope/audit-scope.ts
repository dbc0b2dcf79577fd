import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { IsogateError } from '@isogate/isolation';
import type { StagedInteraction } from '../interactions/staged-interaction.js';

const storage = new AsyncLocalStorage<AuditScope>();

/**
 * What one request adds to its own audit event while it runs: details, a more telling action
 * or resource, and interactions to be written in the same transaction as the event. The
 * gateway opens one per `/v1` request (with `run()`), and writes the event before answering.
 */
export class AuditScope {
  /** The id the request's audit event will have (known before it is written). */
  readonly eventId: string = randomUUID();
  readonly #details: Record<string, unknown> = {};
  readonly #interactions: StagedInteraction[] = [];
  readonly #afterCommit: (() => Promise<void>)[] = [];
  readonly #ifRefused: (() => void)[] = [];
  action: string | undefined;
  resource: string | undefined;

  /** Runs `fn` with `scope` as the current request's audit scope. */
  static run<T>(scope: AuditScope, fn: () => T): T {
    return storage.run(scope, fn);
  }

  /** The current request's scope, or undefined outside a request. */
  static current(): AuditScope | undefined {
    return storage.getStore();
  }

  /** The current request's scope; throws when there is none. */
  static require(): AuditScope {
    const scope = storage.getStore();
    if (scope === undefined)
      throw new IsogateError('internal_error', 'No audit scope is open for this operation');
    return scope;
  }

  /**
   * Adds `details` to the current request's audit event (shallow merge). Never put content
   * here (prompts, document text): details are stored in clear; put hashes and ids.
   */
  static annotate(details: Readonly<Record<string, unknown>>): void {
    storage.getStore()?.annotate(details);
  }

  annotate(details: Readonly<Record<string, unknown>>): void {
    Object.assign(this.#details, details);
  }

  /** Everything annotated so far. */
  get details(): Readonly<Record<string, unknown>> {
    return { ...this.#details };
  }

  stage(interaction: StagedInteraction): void {
    this.#interactions.push(interaction);
  }

  get interactions(): readonly StagedInteraction[] {
    return this.#interactions;
  }

  /**
   * Runs `effect` once the request's event is committed, before the answer is sent; never if
   * it is not (the request then answers 503 and must have had no effect, e.g. no cache entry).
   */
  afterCommit(effect: () => Promise<void>): void {
    this.#afterCommit.push(effect);
  }

  /** The effects waiting for the event's commit. */
  get committedEffects(): readonly (() => Promise<void>)[] {
    return this.#afterCommit;
  }

  /** Runs `effect` if the request's event cannot be committed (the request then answers 503). */
  ifRefused(effect: () => void): void {
    this.#ifRefused.push(effect);
  }

  /** The effects waiting for the event to be refused. */
  get refusedEffects(): readonly (() => void)[] {
    return this.#ifRefused;
  }
}
