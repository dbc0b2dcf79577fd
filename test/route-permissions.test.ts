import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestMethod } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PUBLIC_ROUTE, ROUTE_ROLES } from '../apps/gateway/src/auth/decorators.js';
import { createGateway } from '../apps/gateway/src/gateway.js';
import { testConfig } from './support/env.js';

type Handler = (...args: unknown[]) => unknown;

/** Every route of the gateway with who may call it, read from the controllers' metadata. */
function routeTable(app: NestFastifyApplication): string[] {
  const rows: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as unknown as {
        prototype: Record<string, Handler>;
      } & object;
      const base = Reflect.getMetadata('path', controller) as string;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[name] as Handler;
        const method = Reflect.getMetadata('method', handler) as RequestMethod | undefined;
        if (name === 'constructor' || method === undefined) continue;
        const path = `/${[base, Reflect.getMetadata('path', handler) as string].filter((p) => p && p !== '/').join('/')}`;
        const isPublic =
          Reflect.getMetadata(PUBLIC_ROUTE, handler) ??
          Reflect.getMetadata(PUBLIC_ROUTE, controller);
        const roles = (Reflect.getMetadata(ROUTE_ROLES, handler) ??
          Reflect.getMetadata(ROUTE_ROLES, controller)) as string[] | undefined;
        const who = isPublic
          ? 'public'
          : roles
            ? [...roles].sort().join(',')
            : 'nobody (no @Roles)';
        rows.push(
          `${RequestMethod[method].padEnd(6)} ${path.replace(/\/+/g, '/').padEnd(28)} ${who}`,
        );
      }
    }
  }
  return rows.sort();
}

describe('route permissions', () => {
  let app: NestFastifyApplication;
  beforeAll(async () => {
    app = await createGateway(testConfig());
  });
  afterAll(async () => {
    await app.close();
  });

  it('lists every route with the roles that may call it (a diff here is a permission change)', () => {
    expect(routeTable(app)).toMatchSnapshot();
  });

  it('leaves no route without a decision', () => {
    expect(routeTable(app).filter((row) => row.includes('nobody'))).toEqual([]);
  });
});
