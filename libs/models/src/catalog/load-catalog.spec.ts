import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CatalogError } from './catalog-problems.js';
import { loadCatalog } from './load-catalog.js';
import { upstreamKey } from './model-catalog.js';

const KEY = 'sk-test-0123456789abcdefghij';
const ENV = { OPENAI_KEY: KEY, AZURE_KEY: 'azure-key-value-xyz' };

interface File {
  upstreams: Record<string, unknown>[];
  models: Record<string, unknown>[];
}

/** A valid catalog; tests change one thing in it. */
function catalogFile(): File {
  return {
    upstreams: [
      {
        id: 'openai-us',
        kind: 'openai',
        purpose: 'chat',
        base_url: 'https://api.openai.com/v1',
        api_key_env: 'OPENAI_KEY',
        model: 'gpt-4o-mini',
        region: 'us',
        zero_retention: true,
        certifications: ['SOC2'],
        price: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
        context_tokens: 128000,
      },
      {
        id: 'azure-east',
        kind: 'azure-openai',
        purpose: 'chat',
        base_url: 'https://example.openai.azure.com/openai',
        api_key_env: 'AZURE_KEY',
        model: 'gpt-4o-mini',
        deployment: 'gpt4o-mini-prod',
        api_version: '2024-10-21',
        region: 'us-east',
        baa: true,
        zero_retention: true,
        certifications: ['hipaa', 'soc2'],
        context_tokens: 64000,
        timeout_ms: 20000,
        rate_limit: { requests_per_minute: 600 },
      },
      {
        id: 'local-embed',
        kind: 'openai-compatible',
        purpose: 'embeddings',
        base_url: 'http://127.0.0.1:8081/v1',
        model: 'bge-small',
        dimensions: 384,
      },
    ],
    models: [
      { name: 'chat-default', purpose: 'chat', upstreams: ['azure-east', 'openai-us'] },
      { name: 'embed', purpose: 'embeddings', upstreams: ['local-embed'] },
    ],
  };
}

function problemsOf(file: unknown, env: Record<string, string> = ENV): readonly string[] {
  try {
    loadCatalog(typeof file === 'string' ? file : JSON.stringify(file), env);
  } catch (error) {
    if (error instanceof CatalogError) return error.problems;
    throw error;
  }
  throw new Error('the catalog was accepted');
}

function withUpstream(index: number, change: Record<string, unknown>): File {
  const file = catalogFile();
  file.upstreams[index] = { ...file.upstreams[index], ...change };
  return file;
}

describe('loadCatalog', () => {
  it('reads a valid catalog, YAML or JSON, with least compliant defaults', () => {
    const yaml = [
      'upstreams:',
      '  - id: local',
      '    kind: openai-compatible',
      '    purpose: chat',
      '    base_url: http://127.0.0.1:8000/v1',
      '    model: llama-3.1-8b',
      '    context_tokens: 8192',
      'models:',
      '  - { name: llama, purpose: chat, upstreams: [local] }',
    ].join('\n');
    const catalog = loadCatalog(yaml, {});
    expect(catalog.upstream('local')).toMatchObject({
      region: 'unknown',
      baa: false,
      zeroRetention: false,
      certifications: [],
      maxRetries: 0,
      timeoutMs: 60_000,
      keySource: 'none',
    });
    expect(catalog.model('llama')).toEqual({
      name: 'llama',
      purpose: 'chat',
      upstreams: ['local'],
      contextTokens: 8192,
    });

    const json = loadCatalog(JSON.stringify(catalogFile()), ENV);
    expect(json.upstream('azure-east')).toMatchObject({
      azure: { deployment: 'gpt4o-mini-prod', apiVersion: '2024-10-21' },
      rateLimit: { requestsPerMinute: 600 },
      timeoutMs: 20_000,
    });
    expect(json.upstream('openai-us')?.certifications).toEqual(['soc2']);
    expect(json.model('chat-default')?.contextTokens).toBe(64_000);
    expect(json.model('embed')?.dimensions).toBe(384);
  });

  it('resolves keys but never shows them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, '  file-key-value-abc\n');
    const file = withUpstream(2, { api_key_file: keyFile });
    const catalog = loadCatalog(JSON.stringify(file), ENV);
    expect(upstreamKey(catalog, 'openai-us')).toBe(KEY);
    expect(upstreamKey(catalog, 'local-embed')).toBe('file-key-value-abc');
    for (const shown of [JSON.stringify(catalog), inspect(catalog, { depth: 10 })]) {
      expect(shown).not.toContain(KEY);
      expect(shown).not.toContain('file-key-value-abc');
      expect(shown).not.toContain('azure-key-value-xyz');
    }
  });

  it('names the entry and field of an unknown kind', () => {
    expect(problemsOf(withUpstream(1, { kind: 'azure' }))).toEqual([
      'MODELS_FILE: upstreams[1] "azure-east": kind must be one of openai, azure-openai, openai-compatible',
    ]);
  });

  it('names a key variable that is not set, without its value elsewhere', () => {
    expect(problemsOf(catalogFile(), { OPENAI_KEY: KEY })).toEqual([
      'MODELS_FILE: upstreams[1] "azure-east": api_key_env names AZURE_KEY, which is not set',
    ]);
  });

  it('names a key file that cannot be read', () => {
    const problems = problemsOf(withUpstream(2, { api_key_file: '/nonexistent/isogate-key' }));
    expect(problems).toEqual([
      'MODELS_FILE: upstreams[2] "local-embed": api_key_file cannot be read (ENOENT)',
    ]);
  });

  it('names a duplicate upstream id and a duplicate model name', () => {
    const file = catalogFile();
    file.upstreams.push({ ...file.upstreams[2] });
    file.models.push({ name: 'embed', purpose: 'embeddings', upstreams: ['local-embed'] });
    expect(problemsOf(file)).toEqual([
      'MODELS_FILE: upstreams[3] "local-embed": id is already used by upstreams[2]',
      'MODELS_FILE: models[2] "embed": name is already used by models[1]',
    ]);
  });

  it('names each upstream of the wrong purpose and each unknown one', () => {
    const file = catalogFile();
    file.models.push({
      name: 'wrong',
      purpose: 'embeddings',
      upstreams: ['azure-east', 'openai-us'],
    });
    file.models.push({ name: 'ghost', purpose: 'chat', upstreams: ['nowhere'] });
    expect(problemsOf(file)).toEqual([
      'MODELS_FILE: models[2] "wrong": upstreams[0] names "azure-east", which serves chat, not embeddings',
      'MODELS_FILE: models[2] "wrong": upstreams[1] names "openai-us", which serves chat, not embeddings',
      'MODELS_FILE: models[3] "ghost": upstreams[0] names "nowhere", which is not an upstream',
    ]);
  });

  it('refuses a key written in the file, and never repeats it', () => {
    const problems = problemsOf(withUpstream(0, { api_key: KEY, api_key_env: undefined }));
    expect(problems).toEqual([
      'MODELS_FILE: upstreams[0] "openai-us": api_key must not be in the file: name the ' +
        'environment variable (api_key_env) or the file (api_key_file) that holds the key',
    ]);
    const inVariable = problemsOf(withUpstream(0, { api_key_env: KEY }));
    expect(inVariable).toHaveLength(1);
    expect(inVariable[0]).toMatch(/upstreams\[0\] "openai-us": api_key_env /);
    for (const problem of [...problems, ...inVariable]) expect(problem).not.toContain(KEY);
  });

  it('requires deployment and api_version of an Azure entry', () => {
    expect(problemsOf(withUpstream(1, { deployment: undefined, api_version: undefined }))).toEqual([
      'MODELS_FILE: upstreams[1] "azure-east": deployment is required for kind azure-openai',
      'MODELS_FILE: upstreams[1] "azure-east": api_version is required for kind azure-openai',
    ]);
  });

  it('names missing and misplaced fields, and unknown ones', () => {
    expect(problemsOf(withUpstream(2, { base_url: undefined, colour: 'red' }))).toEqual([
      'MODELS_FILE: upstreams[2] "local-embed": base_url is required',
      'MODELS_FILE: upstreams[2] "local-embed": colour is not a field of upstreams',
    ]);
    expect(problemsOf(withUpstream(2, { dimensions: 'wide' }))).toEqual([
      'MODELS_FILE: upstreams[2] "local-embed": dimensions must be a number',
    ]);
    expect(problemsOf(withUpstream(2, { dimensions: undefined, context_tokens: 1000 }))).toEqual([
      'MODELS_FILE: upstreams[2] "local-embed": dimensions is required for purpose embeddings',
      'MODELS_FILE: upstreams[2] "local-embed": context_tokens does not apply to purpose embeddings',
    ]);
    expect(problemsOf({ upstreams: [], extra: 1 })).toEqual([
      'MODELS_FILE: upstreams must have at least one entry',
      'MODELS_FILE: models is required',
      'MODELS_FILE: extra is not a field (upstreams, models)',
    ]);
  });

  it('refuses an embeddings model whose upstreams return vectors of different lengths', () => {
    const file = catalogFile();
    file.upstreams.push({ ...file.upstreams[2], id: 'big-embed', dimensions: 1024 });
    file.models[1] = {
      name: 'embed',
      purpose: 'embeddings',
      upstreams: ['local-embed', 'big-embed'],
    };
    expect(problemsOf(file)).toEqual([
      'MODELS_FILE: models[1] "embed": upstreams return vectors of different lengths (384, 1024); they must serve one model',
    ]);
  });

  it('reports where YAML is broken without quoting the line', () => {
    const problems = problemsOf(`upstreams:\n  - id: x\n    api_key: "${KEY}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^MODELS_FILE: is not valid YAML or JSON at line \d+/);
    expect(problems[0]).not.toContain(KEY);
  });
});
