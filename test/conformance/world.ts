import { newCanary, tokenCanary, type Canary } from './canaries.js';

/** The tenant roles a conformance run holds a token for. */
export const TENANT_ROLES = ['user', 'admin', 'auditor'] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];

/**
 * The tenants of a run: `a1` and `a2` under MSP A, `b1` under MSP B, so every boundary is
 * crossed twice: between tenants of one MSP, and between MSPs.
 */
export const SLOTS = [
  { slot: 'a1', msp: 'A' },
  { slot: 'a2', msp: 'A' },
  { slot: 'b1', msp: 'B' },
] as const;
export type Slot = (typeof SLOTS)[number]['slot'];
export type MspLabel = 'A' | 'B';

/** Someone who calls the gateway: a tenant role, an operator, or nobody (no token). */
export interface Principal {
  readonly label: string;
  readonly token: string | undefined;
  readonly tenant?: Tenant;
  readonly msp?: Msp;
}

/** A document as it was sent, with the canaries planted in it. */
export interface SeedDocument {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  readonly metadata: Record<string, string>;
  readonly canaries: readonly Canary[];
}

/** One tenant of the run: its id, the canaries it owns, its documents and its callers. */
export interface Tenant {
  readonly slot: Slot;
  readonly id: string;
  readonly msp: Msp;
  readonly name: string;
  readonly nameCanary: Canary;
  /** Every content canary of the tenant (grows as documents are added). */
  readonly canaries: Canary[];
  readonly docs: Map<string, SeedDocument>;
  readonly user: Principal;
  readonly admin: Principal;
  readonly auditor: Principal;
}

/** An MSP of the run and its operator. */
export interface Msp {
  readonly label: MspLabel;
  readonly operator: Principal;
  readonly tenants: Tenant[];
}

/** What a run needs to know about each tenant: its id and a token per role. */
export interface WorldSpec {
  readonly tenants: Record<Slot, { readonly id: string } & Record<TenantRole, string>>;
  readonly operators: Record<MspLabel, string>;
}

/** The run's tenants, MSPs and callers, and who may see which canary. */
export class World {
  readonly msps: Record<MspLabel, Msp>;
  readonly tenants: Tenant[];
  readonly anonymous: Principal = { label: 'anonymous', token: undefined };
  readonly #tokens: Canary[] = [];

  constructor(spec: WorldSpec) {
    const msp = (label: MspLabel): Msp => {
      const operator = { label: `operator ${label}`, token: spec.operators[label] } as Principal;
      const made: Msp = { label, operator, tenants: [] };
      Object.assign(operator, { msp: made });
      this.#tokens.push(tokenCanary(`operator ${label}`, spec.operators[label]));
      return made;
    };
    this.msps = { A: msp('A'), B: msp('B') };
    this.tenants = SLOTS.map(({ slot, msp: label }) => this.tenantOf(slot, this.msps[label], spec));
  }

  /** Every canary of every tenant: content and names. */
  get canaries(): Canary[] {
    return this.tenants.flatMap((t) => [...t.canaries, t.nameCanary]);
  }

  /** The signatures of every token of the run: they must never reach a log, an LLM or a store. */
  get tokens(): readonly Canary[] {
    return this.#tokens;
  }

  /**
   * What `principal` may see: a tenant's callers their tenant's canaries; an operator the
   * names of its own MSP's tenants, never any content; nobody without a token anything.
   */
  allowedFor(principal: Principal): Canary[] {
    if (principal.tenant !== undefined) {
      return [...principal.tenant.canaries, principal.tenant.nameCanary];
    }
    if (principal.msp !== undefined) return principal.msp.tenants.map((t) => t.nameCanary);
    return [];
  }

  /** Every canary `principal` must never see, and every other caller's token. */
  forbiddenFor(principal: Principal): Canary[] {
    const allowed = new Set(this.allowedFor(principal));
    const own = principal.token === undefined ? [] : [tokenCanary('', principal.token).needle];
    return [
      ...this.canaries.filter((c) => !allowed.has(c)),
      ...this.#tokens.filter((t) => !own.includes(t.needle)),
    ];
  }

  /** Canaries of every tenant but `tenant`. */
  foreignTo(tenant: Tenant): Canary[] {
    return this.tenants.filter((t) => t !== tenant).flatMap((t) => [...t.canaries, t.nameCanary]);
  }

  private tenantOf(slot: Slot, msp: Msp, spec: WorldSpec): Tenant {
    const given = spec.tenants[slot];
    const nameCanary = newCanary(given.id, 'name');
    const tenant = {
      slot,
      id: given.id,
      msp,
      name: `Conformance ${slot} ${nameCanary.value}`,
      nameCanary,
      canaries: [],
      docs: new Map(),
    } as unknown as Tenant;
    for (const role of ['user', 'admin', 'auditor'] as const) {
      Object.assign(tenant, { [role]: { label: `${slot}.${role}`, token: given[role], tenant } });
      this.#tokens.push(tokenCanary(`${slot}.${role}`, given[role]));
    }
    msp.tenants.push(tenant);
    return tenant;
  }
}
