// The Rego formatter: canonical Rego v1 source from an AST (`airlock fmt`), and
// one-line renderings of terms and bodies for messages and plan dumps.
import type { Body, Module, RegoError, Term } from '../ast.js';
import { parseModule } from '../parse/index.js';
import { layoutModule } from './layout.js';
import { printBodyLines, printTerm } from './terms.js';

/**
 * Canonical Rego v1 source for a module. Pass the text it was parsed from, when
 * at hand, so that blank lines and one-line bodies follow it exactly (without
 * it they are inferred from the AST's locations).
 */
export function formatModule(module: Module, source?: string): string {
  return layoutModule(module, source);
}

/** Parses and formats one file; on parse errors, returns them and no text. */
export function formatSource(source: string, file: string): { formatted?: string; errors: RegoError[] } {
  const { module, errors } = parseModule(source, file);
  if (!module || errors.length > 0) return { errors };
  return { formatted: formatModule(module, source), errors: [] };
}

/** A term in Rego syntax (operators infix, minimal parentheses). */
export function formatTerm(term: Term): string {
  return printTerm(term);
}

/** A body, one expression per line (no trailing newline). */
export function formatBody(body: Body): string {
  return printBodyLines(body, 0).replace(/\n$/, '');
}
