import { Inject, Injectable, Logger } from '@nestjs/common';
import { canonicalJson, type InteractionChunk } from '@isogate/audit';
import { DocumentsRepository, FailSoftCache, TenantContext, TenantKeys } from '@isogate/isolation';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/config.js';
import type { Answer } from './chat-answer.js';

/** An answer as the cache keeps it: enough to answer again and to audit the hit. */
export interface CachedAnswer extends Answer {
  /** What the model saw for the original answer, for the hit's interaction record. */
  readonly prompt: string;
  readonly chunks: readonly InteractionChunk[];
}

/** Everything an answer depends on, besides the tenant (the keyspace) and its corpus version. */
export interface CacheKeyParts {
  readonly model: string;
  readonly messages: unknown;
  readonly retrieval: unknown;
  readonly sampling: unknown;
  /** Tools, tool choice, response format and logprobs, as sent to the model. */
  readonly tools: unknown;
  readonly roles: readonly string[];
}

/**
 * What a lookup found: the request's key, the tenant's corpus version now, and the answer cached
 * for both, if any. A fresh answer is stored back with it (`put`).
 */
export interface CacheLookup {
  readonly key: string;
  readonly corpusVersion: string;
  readonly answer: CachedAnswer | undefined;
}

interface Envelope {
  readonly tenant_id: string;
  readonly body: string;
  readonly mac: string;
}

/** What the sealed body holds: the answer and the corpus version it was made from. */
interface SealedEntry {
  readonly corpus_version: string;
  readonly answer: CachedAnswer;
}

const KEY_PURPOSE = 'chat-cache-key';
const MAC_PURPOSE = 'chat-cache-entry';

/**
 * Chat answers cached in the tenant's own Redis keyspace (reached as the tenant's ACL user).
 * The key is a MAC under the tenant's key of everything the answer depends on and the caller's
 * roles, so a key reveals nothing and cannot be computed for another tenant. An entry is sealed
 * with the tenant's data key and carries its tenant id, a MAC, and the tenant's corpus version
 * (bumped by every document change) the answer was made from; it is served only while that is
 * still the corpus version in PostgreSQL, which a lookup reads at the same time as the entry.
 * An entry that fails any check is a miss. Redis being down makes every lookup a miss and every
 * store a no-op: the cache is skipped.
 */
@Injectable()
export class ChatCache {
  readonly #logger = new Logger(ChatCache.name);
  readonly #ttlSeconds: number;

  constructor(
    // The quotas' guarded path to the tenant's Redis: a short timeout, and a circuit breaker
    // that skips Redis for a while after a failure, so a Redis outage costs chat nothing.
    @Inject(FailSoftCache) private readonly redis: FailSoftCache,
    @Inject(TenantKeys) private readonly keys: TenantKeys,
    @Inject(DocumentsRepository) private readonly documents: DocumentsRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.#ttlSeconds = config.llm.cacheTtlSeconds;
  }

  get enabled(): boolean {
    return this.#ttlSeconds > 0;
  }

  /**
   * The current tenant's cached answer to a request made of `parts`, with the tenant's corpus
   * version. Entry and version are read at once: an entry made from any other version (or
   * absent, unreadable, tampered, or Redis down) is a miss.
   */
  async lookup(parts: CacheKeyParts): Promise<CacheLookup> {
    const key = `chat:${await this.keys.mac(KEY_PURPOSE, canonicalJson(parts))}`;
    const [corpusVersion, raw] = await Promise.all([
      this.documents.corpusVersion(),
      this.redis.attempt((cache) => cache.get(key)),
    ]);
    if (raw === null || raw === undefined) return { key, corpusVersion, answer: undefined };
    const entry = await this.open(key, raw);
    const current = entry?.corpus_version === corpusVersion;
    return { key, corpusVersion, answer: current ? entry.answer : undefined };
  }

  /**
   * Stores a complete answer under the lookup's key, with the corpus version that lookup read
   * (before the answer's retrieval); a cache that is down is skipped.
   */
  async put({ key, corpusVersion }: CacheLookup, answer: CachedAnswer): Promise<void> {
    const tenantId = TenantContext.requireTenantId();
    const sealed: SealedEntry = { corpus_version: corpusVersion, answer };
    const body = await this.keys.sealText(JSON.stringify(sealed));
    const mac = await this.keys.mac(MAC_PURPOSE, macInput(tenantId, key, body));
    const envelope: Envelope = { tenant_id: tenantId, body, mac };
    await this.redis.attempt((cache) => cache.set(key, JSON.stringify(envelope), this.#ttlSeconds));
  }

  /** The entry in `raw`, or undefined when it is not the current tenant's genuine entry. */
  private async open(key: string, raw: string): Promise<SealedEntry | undefined> {
    try {
      const envelope = JSON.parse(raw) as Envelope;
      const tenantId = TenantContext.requireTenantId();
      const genuine =
        envelope.tenant_id === tenantId &&
        typeof envelope.body === 'string' &&
        typeof envelope.mac === 'string' &&
        (await this.keys.verifyMac(
          MAC_PURPOSE,
          macInput(tenantId, key, envelope.body),
          envelope.mac,
        ));
      if (!genuine) throw new Error('tenant or MAC mismatch');
      return JSON.parse(await this.keys.openText(envelope.body)) as SealedEntry;
    } catch {
      // Never the entry itself in the log: it may be someone's attempt at a payload.
      this.#logger.warn('A chat cache entry failed its integrity check and was ignored');
      return undefined;
    }
  }
}

function macInput(tenantId: string, key: string, body: string): string {
  return `${tenantId}\n${key}\n${body}`;
}
