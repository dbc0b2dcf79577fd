import { describeCanaries, findCanaries, type Canary } from './canaries.js';
import { errorCode, type CallOptions, type Exchange, type GatewayClient } from './http.js';
import type { Principal } from './world.js';

export type Outcome = 'passed' | 'failed' | 'skipped';

/** One row of the table. */
export interface CaseResult {
  readonly name: string;
  readonly boundary: string;
  readonly outcome: Outcome;
  /** Why a case was skipped (`remote`). */
  readonly why?: string;
  readonly detail: string;
}

/**
 * The expectations of one case. Every call made through it is scanned for what its caller
 * must not see, so no case can forget the scan; a case passes when nothing failed.
 */
export class Check {
  readonly failures: string[] = [];
  readonly notes: string[] = [];

  constructor(private readonly client: GatewayClient) {}

  async call(
    principal: Principal,
    method: string,
    path: string,
    options?: CallOptions,
  ): Promise<Exchange> {
    const exchange = await this.client.call(principal, method, path, options);
    const leaks = this.client.leaksIn(exchange);
    this.expect(
      leaks.length === 0,
      `${principal.label} ${method} ${path} answered ${describeCanaries(leaks)}`,
    );
    return exchange;
  }

  expect(condition: boolean, failure: string): boolean {
    if (!condition) this.failures.push(failure);
    return condition;
  }

  /** The answer has status `expected` (and error code `code`, when given). */
  status(exchange: Exchange, expected: number, code?: string): boolean {
    const got = errorCode(exchange);
    const ok = exchange.status === expected && (code === undefined || got === code);
    return this.expect(
      ok,
      `${exchange.principal.label} ${exchange.method} ${exchange.path}: expected ${expected}${
        code ? ` ${code}` : ''
      }, got ${exchange.status}${got ? ` ${got}` : ''}`,
    );
  }

  /** `text` holds at least one of `canaries` (a control: the owner does see its data). */
  sees(text: string, canaries: readonly Canary[], what: string): boolean {
    return this.expect(findCanaries(text, canaries).length > 0, `${what}: own canary missing`);
  }

  /** `text` holds none of `canaries`. */
  lacks(text: string, canaries: readonly Canary[], what: string): boolean {
    const found = findCanaries(text, canaries);
    return this.expect(found.length === 0, `${what}: found ${describeCanaries(found)}`);
  }

  note(text: string): void {
    this.notes.push(text);
  }

  fail(text: string): void {
    this.failures.push(text);
  }
}

/** Runs cases one after the other and keeps their results. */
export class Suite {
  readonly results: CaseResult[] = [];

  constructor(
    private readonly client: GatewayClient,
    private readonly onResult: (result: CaseResult) => void = () => undefined,
  ) {}

  async case(name: string, boundary: string, body: (check: Check) => Promise<void>): Promise<void> {
    const check = new Check(this.client);
    try {
      await body(check);
    } catch (error) {
      check.fail(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    const failed = check.failures.length > 0;
    const shown = failed ? check.failures : check.notes;
    const more = shown.length > 3 ? `; +${shown.length - 3} more` : '';
    this.record({
      name,
      boundary,
      outcome: failed ? 'failed' : 'passed',
      detail: shown.slice(0, 3).join('; ') + more,
    });
  }

  /** Records a case that does not apply here; the table shows `skipped (<why>)`. */
  skip(name: string, boundary: string, why: string, detail = ''): void {
    this.record({ name, boundary, outcome: 'skipped', why, detail });
  }

  /** Records a case that could not run as failed, with the reason. */
  fail(name: string, boundary: string, reason: string): void {
    this.record({ name, boundary, outcome: 'failed', detail: reason });
  }

  get passed(): number {
    return this.results.filter((r) => r.outcome === 'passed').length;
  }

  get failed(): number {
    return this.results.filter((r) => r.outcome === 'failed').length;
  }

  private record(result: CaseResult): void {
    this.results.push(result);
    this.onResult(result);
  }
}
