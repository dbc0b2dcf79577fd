import { describe, expect, it } from '@jest/globals';
import { catalogFromEnvSettings, type EnvModelSettings } from './catalog-from-env.js';
import { upstreamKey } from './model-catalog.js';

const settings: EnvModelSettings = {
  llm: {
    baseUrl: 'https://llm.example/v1',
    apiKey: 'llm-key-value',
    models: [
      { id: 'gpt-4o-mini', contextTokens: 8192 },
      { id: 'gpt-4o', contextTokens: 128_000 },
    ],
    timeoutMs: 45_000,
    maxRetries: 2,
  },
  embeddings: {
    baseUrl: 'http://127.0.0.1:8081/v1',
    apiKey: undefined,
    model: 'bge-small',
    dimensions: 384,
  },
};

describe('catalogFromEnvSettings', () => {
  it('turns each LLM model and the embeddings model into a one-upstream logical model', () => {
    const catalog = catalogFromEnvSettings(settings);
    expect(catalog.models).toEqual([
      { name: 'gpt-4o-mini', purpose: 'chat', upstreams: ['llm:gpt-4o-mini'], contextTokens: 8192 },
      { name: 'gpt-4o', purpose: 'chat', upstreams: ['llm:gpt-4o'], contextTokens: 128_000 },
      {
        name: 'bge-small',
        purpose: 'embeddings',
        upstreams: ['embeddings:bge-small'],
        dimensions: 384,
      },
    ]);
    expect(catalog.upstream('llm:gpt-4o')).toMatchObject({
      kind: 'openai-compatible',
      baseUrl: 'https://llm.example/v1',
      model: 'gpt-4o',
      timeoutMs: 45_000,
      maxRetries: 2,
      keySource: 'env',
    });
    expect(upstreamKey(catalog, 'llm:gpt-4o')).toBe('llm-key-value');
    expect(upstreamKey(catalog, 'embeddings:bge-small')).toBeUndefined();
    expect(JSON.stringify(catalog)).not.toContain('llm-key-value');
  });

  it('gives every upstream the least compliant attributes', () => {
    for (const upstream of catalogFromEnvSettings(settings).upstreams) {
      expect(upstream).toMatchObject({
        region: 'unknown',
        baa: false,
        zeroRetention: false,
        certifications: [],
      });
    }
  });

  it('leaves out what is not configured', () => {
    const catalog = catalogFromEnvSettings({
      llm: { ...settings.llm, baseUrl: undefined },
      embeddings: { ...settings.embeddings, dimensions: undefined },
    });
    expect(catalog.upstreams).toEqual([]);
    expect(catalog.models).toEqual([]);
  });
});
