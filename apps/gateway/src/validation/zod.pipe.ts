import { Injectable, type PipeTransform } from '@nestjs/common';
import { IsogateError } from '@isogate/isolation';
import { z } from 'zod';

/** Human-readable list of what is wrong, naming each field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
      return issue.code === 'unrecognized_keys'
        ? `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : `${where}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Validates a body or query with a zod schema. Schemas are strict: a field the API does not
 * know (for example a `tenant_id` a caller hopes will be honoured) is refused, not ignored.
 */
@Injectable()
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const parsed = this.schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    // `param` names the first field at fault, as OpenAI's errors do.
    const first = parsed.error.issues[0];
    // An unknown field is named itself, not the object that holds it.
    const path = [
      ...(first?.path ?? []),
      ...(first?.code === 'unrecognized_keys' ? first.keys.slice(0, 1) : []),
    ];
    throw new IsogateError(
      'invalid_request',
      describeIssues(parsed.error),
      path.length > 0 ? { param: path.join('.') } : undefined,
    );
  }
}

/** The OpenAPI schema of a request body, from the same zod schema that validates it. */
export function bodySchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input' });
}
