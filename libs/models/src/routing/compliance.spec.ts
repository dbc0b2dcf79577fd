import { describe, expect, it } from '@jest/globals';
import { loadCatalog } from '../catalog/load-catalog.js';
import { allowedModels, compliantUpstreams } from './compliance.js';
import {
  effectiveRequirements,
  mergePolicy,
  policyVersion,
  type TenantPolicy,
} from './tenant-policy.js';

const chat = (id: string, attributes: Record<string, unknown>) => ({
  id,
  kind: 'openai-compatible',
  purpose: 'chat',
  base_url: 'http://127.0.0.1:9/v1',
  model: 'm',
  context_tokens: 8192,
  ...attributes,
});

const catalog = loadCatalog(
  JSON.stringify({
    upstreams: [
      chat('cheap', { region: 'us-east' }),
      chat('baa-east', {
        region: 'us-east',
        baa: true,
        zero_retention: true,
        certifications: ['hipaa'],
      }),
      chat('baa-eu', { region: 'eu-west', baa: true, zero_retention: true }),
      chat('retain-baa', { region: 'us-east', baa: true }),
      chat('pci', { region: 'us-east', zero_retention: true, certifications: ['PCI-DSS'] }),
      {
        id: 'embed',
        kind: 'openai-compatible',
        purpose: 'embeddings',
        base_url: 'http://127.0.0.1:9/v1',
        model: 'e',
        dimensions: 8,
      },
    ],
    models: [
      {
        name: 'general',
        purpose: 'chat',
        upstreams: ['cheap', 'retain-baa', 'baa-east', 'baa-eu'],
      },
      { name: 'cheap-only', purpose: 'chat', upstreams: ['cheap'] },
      { name: 'cards', purpose: 'chat', upstreams: ['cheap', 'pci'] },
      { name: 'embed', purpose: 'embeddings', upstreams: ['embed'] },
    ],
  }),
  {},
);

const ids = (model: string, policy: TenantPolicy) =>
  compliantUpstreams(catalog, model, policy).map((upstream) => upstream.id);

describe('compliantUpstreams', () => {
  it('keeps every upstream, in order, for a policy without requirements', () => {
    expect(ids('general', {})).toEqual(['cheap', 'retain-baa', 'baa-east', 'baa-eu']);
    expect(ids('general', { data_class: 'public' })).toEqual([
      'cheap',
      'retain-baa',
      'baa-east',
      'baa-eu',
    ]);
  });

  it('selects only BAA + zero-retention upstreams for PHI', () => {
    expect(ids('general', { data_class: 'phi' })).toEqual(['baa-east', 'baa-eu']);
    expect(ids('general', { data_class: 'PHI' })).toEqual(['baa-east', 'baa-eu']);
    expect(ids('cheap-only', { data_class: 'phi' })).toEqual([]);
  });

  it('requires pci-dss and zero retention for PCI', () => {
    expect(ids('cards', { data_class: 'pci' })).toEqual(['pci']);
  });

  it('treats an unknown data class as the strictest', () => {
    expect(ids('general', { data_class: 'phi-typo' })).toEqual([]);
    expect(effectiveRequirements({ data_class: 'secret' })).toEqual({
      baa: true,
      zeroRetention: true,
      certifications: ['pci-dss'],
    });
  });

  it('adds explicit requirements to the data class', () => {
    expect(ids('general', { require: { baa: true } })).toEqual([
      'retain-baa',
      'baa-east',
      'baa-eu',
    ]);
    expect(ids('general', { data_class: 'phi', require: { certifications: ['HIPAA'] } })).toEqual([
      'baa-east',
    ]);
  });

  it('filters by region', () => {
    expect(ids('general', { data_class: 'phi', allowed_regions: ['eu-west'] })).toEqual(['baa-eu']);
    expect(ids('general', { allowed_regions: [] })).toEqual([]);
  });

  it('honours the allow-list and knows no unknown model', () => {
    expect(ids('general', { models: ['cheap-only'] })).toEqual([]);
    expect(ids('cheap-only', { models: ['cheap-only'] })).toEqual(['cheap']);
    expect(ids('nonexistent', {})).toEqual([]);
  });
});

describe('allowedModels', () => {
  it('lists the models of a purpose that are allowed and have a compliant upstream', () => {
    const names = (policy: TenantPolicy, purpose: 'chat' | 'embeddings' = 'chat') =>
      allowedModels(catalog, policy, purpose).map((model) => model.name);
    expect(names({})).toEqual(['general', 'cheap-only', 'cards']);
    expect(names({ data_class: 'phi' })).toEqual(['general']);
    expect(names({ models: ['cheap-only', 'cards'] })).toEqual(['cheap-only', 'cards']);
    expect(names({ data_class: 'phi', models: ['cheap-only'] })).toEqual([]);
    expect(names({}, 'embeddings')).toEqual(['embed']);
  });
});

describe('mergePolicy', () => {
  const msp: TenantPolicy = {
    data_class: 'phi',
    allowed_regions: ['us-east', 'us-west'],
    require: { certifications: ['soc2'] },
    models: ['general', 'cards'],
    default_model: 'general',
  };

  it('lets the tenant override fields and narrow lists', () => {
    expect(
      mergePolicy(msp, {
        allowed_regions: ['us-east', 'eu-west'],
        models: ['cards', 'cheap-only'],
        default_model: 'cards',
        require: { certifications: ['hipaa'] },
      }),
    ).toEqual({
      data_class: 'phi',
      allowed_regions: ['us-east'],
      require: { baa: true, zero_retention: true, certifications: ['hipaa', 'soc2'] },
      models: ['cards'],
      default_model: 'cards',
    });
  });

  it('never lets a tenant loosen what its MSP requires', () => {
    const merged = mergePolicy(msp, { data_class: 'public' });
    expect(effectiveRequirements(merged)).toEqual({
      baa: true,
      zeroRetention: true,
      certifications: ['soc2'],
    });
    expect(ids('general', mergePolicy({ data_class: 'phi' }, { data_class: 'public' }))).toEqual([
      'baa-east',
      'baa-eu',
    ]);
    expect(mergePolicy({ allowed_regions: ['eu-west'] }, {}).allowed_regions).toEqual(['eu-west']);
  });

  it('keeps the tenant policy as it is under an empty MSP default', () => {
    expect(mergePolicy({}, { allowed_regions: ['us-east'] })).toEqual({
      allowed_regions: ['us-east'],
    });
  });
});

describe('policyVersion', () => {
  it('is the same for the same policy whatever its key order, and differs otherwise', () => {
    const a = policyVersion({ data_class: 'phi', allowed_regions: ['us-east'] });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(policyVersion({ allowed_regions: ['us-east'], data_class: 'phi' })).toBe(a);
    expect(policyVersion({ data_class: 'phi', allowed_regions: ['us-west'] })).not.toBe(a);
  });
});
