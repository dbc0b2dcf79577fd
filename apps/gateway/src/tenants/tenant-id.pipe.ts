import { Injectable, type PipeTransform } from '@nestjs/common';
import { IsogateError, TENANT_ID_PATTERN } from '@isogate/isolation';

/**
 * A tenant id from the path. One that could never have been created (wrong characters, NUL,
 * too long) answers 404 like any tenant the caller cannot see, before it reaches a store.
 */
@Injectable()
export class TenantIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!TENANT_ID_PATTERN.test(value)) throw new IsogateError('not_found', 'Tenant not found');
    return value;
  }
}
