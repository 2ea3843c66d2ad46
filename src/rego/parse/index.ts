// The Rego front end's first stage: source text to AST (see ../ast.ts).
// Never throws for bad input: every problem is a `rego_parse_error` with its location.
import type { Body, Module, RegoError, Term } from '../ast.js';
import { Parser } from './parser.js';

export { MAX_NESTING } from './parser.js';

/** Parses one module. `module` is set exactly when `errors` is empty. */
export function parseModule(source: string, file: string): { module?: Module; errors: RegoError[] } {
  return new Parser(source, file).parseModule();
}

/** Parses a query such as `data.test.p = x` (literals separated by `;` or line breaks). */
export function parseQuery(source: string, file = 'query'): { body?: Body; errors: RegoError[] } {
  return new Parser(source, file).parseQuery();
}

/** Parses one term, e.g. `{"x": {1, 2}}`. */
export function parseTerm(source: string, file = 'term'): { term?: Term; errors: RegoError[] } {
  return new Parser(source, file).parseTerm();
}
