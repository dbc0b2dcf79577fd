import { describe, expect, it } from '@jest/globals';
import { loadCatalog } from '../catalog/load-catalog.js';
import { RoutePlans } from './route-plans.js';
import { policyVersion } from './tenant-policy.js';

const upstream = (id: string, baa: boolean) => ({
  id,
  kind: 'openai-compatible',
  purpose: 'chat',
  base_url: 'http://127.0.0.1:9/v1',
  model: 'm',
  context_tokens: 8192,
  baa,
  zero_retention: baa,
});
const catalog = loadCatalog(
  JSON.stringify({
    upstreams: [upstream('cheap', false), upstream('baa', true)],
    models: [
      { name: 'general', purpose: 'chat', upstreams: ['cheap', 'baa'] },
      { name: 'cheap-only', purpose: 'chat', upstreams: ['cheap'] },
    ],
  }),
  {},
);
const ids = (plans: RoutePlans, model: string, policy: object) =>
  plans.plan(model, 'chat', policy).upstreams.map((entry) => entry.id);

describe('RoutePlans', () => {
  it('keeps the decisions of different policies and models apart', () => {
    const plans = new RoutePlans(catalog, 2);
    expect(ids(plans, 'general', { data_class: 'public' })).toEqual(['cheap', 'baa']);
    expect(ids(plans, 'general', { data_class: 'phi' })).toEqual(['baa']);
    expect(ids(plans, 'cheap-only', { data_class: 'phi' })).toEqual([]);
    expect(ids(plans, 'general', { data_class: 'public' })).toEqual(['cheap', 'baa']);
    expect(ids(plans, 'general', { data_class: 'phi' })).toEqual(['baa']);
  });

  it('carries the policy version, the same for the same policy in any key order', () => {
    const plans = new RoutePlans(catalog);
    const a = plans.plan('general', 'chat', { data_class: 'phi', models: ['general'] });
    const b = plans.plan('general', 'chat', { models: ['general'], data_class: 'phi' });
    expect(a.policyVersion).toBe(policyVersion({ data_class: 'phi', models: ['general'] }));
    expect(b).toBe(a);
  });

  it('names no model that is unknown, of the other purpose, or outside the allow-list', () => {
    const plans = new RoutePlans(catalog);
    expect(() => plans.plan('nope', 'chat', {})).toThrow(
      expect.objectContaining({ code: 'model_not_found' }),
    );
    expect(() => plans.plan('general', 'embeddings', {})).toThrow(
      expect.objectContaining({ code: 'model_not_found' }),
    );
    expect(() => plans.plan('general', 'chat', { models: ['cheap-only'] })).toThrow(
      expect.objectContaining({ code: 'model_not_found' }),
    );
  });
});
