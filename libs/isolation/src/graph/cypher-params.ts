import { IsogateError } from '../errors/isogate-error.js';

/** A value a Cypher query may take as a parameter. */
export type CypherValue =
  string | number | boolean | null | CypherValue[] | { [key: string]: CypherValue };

/** A query's parameters, by name (`$name` in the query text). */
export type CypherParams = { [name: string]: CypherValue };

/** A parameter name or map key the client may write into the query's `CYPHER` prefix. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Refuses parameters the falkordb client cannot pass safely. The client sends parameters as a
 * `CYPHER name=value ...` prefix of the query text: it quotes string values but writes
 * parameter names and map keys as they are, so a key like `x=1 MATCH (n) DELETE n //` would
 * become query text. Non-finite numbers have no Cypher literal at all.
 */
export function checkParams(params: CypherParams): void {
  for (const [name, value] of Object.entries(params)) {
    if (!NAME.test(name)) refuse();
    checkValue(value);
  }
}

function checkValue(value: CypherValue): void {
  if (typeof value === 'number' && !Number.isFinite(value)) refuse();
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) checkValue(item);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (!NAME.test(key)) refuse();
    checkValue(item);
  }
}

function refuse(): never {
  throw new IsogateError('invalid_request', 'A graph query parameter is not valid');
}
