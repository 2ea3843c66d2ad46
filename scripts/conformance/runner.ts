// Runs OPA's evaluation test cases through Airlock's compiler and the stock
// @open-policy-agent/opa-wasm SDK, and compares with what each case expects.
// The cases are read in place (see ./corpus.ts), never copied. Used by `npm run conformance`
// (scripts/conformance.mts) and by the suite's gate (test/conformance/corpus.test.ts).
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type { Body, Term } from '../../src/rego/ast.js';
import { evaluate, hostBuiltins } from '../../src/rego/builtins/host/index.js';
import { compile } from '../../src/rego/compile.js';
import { parseQuery, parseTerm } from '../../src/rego/parse/index.js';
import { withCallSite } from '../../src/rego/wasm/index.js';
import type { ConformanceCase } from './corpus.js';

export type Outcome = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  /** `<file>#<index in file>`: stable across runs. */
  id: string;
  category: string;
  note: string;
  outcome: Outcome;
  /** Why it failed or was skipped. */
  reason?: string;
}

/** Stable identifiers: the file and the case's position in it. */
export function caseIds(cases: ConformanceCase[]): string[] {
  const seen = new Map<string, number>();
  return cases.map((c) => {
    const n = seen.get(c.file) ?? 0;
    seen.set(c.file, n + 1);
    return `${c.file}#${n}`;
  });
}

/** The query to compile: the case's query, with `input_term` (which may hold sets) bound by `with input as`. */
function caseQuery(c: ConformanceCase): { body?: Body; error?: string } {
  const q = parseQuery(c.query, 'query.rego');
  if (!q.body) return { error: q.errors.map((e) => e.message).join('; ') };
  if (c.input_term === undefined) return { body: q.body };
  const t = parseTerm(c.input_term, 'input_term');
  if (!t.term) return { error: `input_term: ${t.errors.map((e) => e.message).join('; ')}` };
  const input: Term = t.term;
  const target: Term = {
    type: 'ref',
    terms: [{ type: 'var', name: 'input', location: input.location }],
    location: input.location,
  };
  return {
    body: q.body.map((e) => ({
      ...e,
      with: [...e.with, { target: target as never, value: input, location: input.location }],
    })),
  };
}

export async function runCase(c: ConformanceCase, id: string): Promise<CaseResult> {
  const base = { id, category: c.category, note: c.note };
  const expectsError = c.want_error !== undefined || c.want_error_code !== undefined;
  const q = caseQuery(c);
  if (!q.body) return { ...base, outcome: 'fail', reason: `query does not parse: ${q.error}` };
  const compiled = compile({
    sources: c.modules.map((text, i) => ({ file: `test-${i}.rego`, text })),
    queries: [{ name: 'query', query: q.body }],
    annotatedEntrypoints: false,
    optimize: false,
  });
  if (!compiled.wasm) {
    const codes = compiled.errors.map((e) => e.code);
    const text = compiled.errors.map((e) => `${e.code}: ${e.message}`).join('; ');
    if (c.want_error_code && codes.includes(c.want_error_code as never)) return { ...base, outcome: 'pass' };
    return { ...base, outcome: 'fail', reason: `compile: ${text}` };
  }
  let rows: Record<string, unknown>[];
  let policy: Awaited<ReturnType<typeof loadPolicy>> | undefined;
  try {
    const builtins = hostBuiltins({ strict: c.strict_error === true });
    policy = await loadPolicy(compiled.wasm, undefined, builtins);
    if (c.data !== undefined) policy.setData(c.data as object);
    // As JSON text: the SDK would treat a falsy input (false, 0, "") as absent.
    const input =
      c.input_term === undefined && c.input !== undefined
        ? (new TextEncoder().encode(JSON.stringify(c.input)).buffer as ArrayBuffer)
        : undefined;
    const out = evaluate(policy, builtins, input, 'query') as Record<string, unknown>[];
    rows = out ?? [];
  } catch (err) {
    // Host built-in errors come without a call site: add the module's `file:row`.
    const message = errorText(policy ? withCallSite(err, policy) : err);
    if (!expectsError) return { ...base, outcome: 'fail', reason: `eval error: ${message}` };
    if (c.want_error_code && !message.includes(c.want_error_code))
      return {
        ...base,
        outcome: 'fail',
        reason: `error ${JSON.stringify(message)} lacks code ${c.want_error_code}`,
      };
    if (c.want_error && !message.includes(c.want_error))
      return {
        ...base,
        outcome: 'fail',
        reason: `error ${JSON.stringify(message)} lacks ${JSON.stringify(c.want_error)}`,
      };
    return { ...base, outcome: 'pass' };
  }
  if (expectsError) {
    return {
      ...base,
      outcome: 'fail',
      reason: `expected error ${c.want_error_code ?? c.want_error}, got ${short(rows)}`,
    };
  }
  if (c.want_defined !== undefined) {
    const defined = rows.length > 0;
    return defined === c.want_defined
      ? { ...base, outcome: 'pass' }
      : { ...base, outcome: 'fail', reason: `want_defined ${c.want_defined}, got ${short(rows)}` };
  }
  if (c.want_result !== undefined) {
    const norm = (r: unknown[]) => r.map((x) => canonical(x, !!c.sort_bindings)).sort();
    const want = norm(c.want_result);
    const got = norm(rows);
    if (want.length === got.length && want.every((w, i) => w === got[i])) return { ...base, outcome: 'pass' };
    return { ...base, outcome: 'fail', reason: `want ${short(c.want_result)}, got ${short(rows)}` };
  }
  return { ...base, outcome: 'skip', reason: 'case states no expectation' };
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** A canonical text for comparison: object keys sorted, numbers by value, arrays sorted when asked. */
export function canonical(v: unknown, sortArrays: boolean): string {
  if (Array.isArray(v)) {
    const items = v.map((x) => canonical(x, sortArrays));
    if (sortArrays) items.sort();
    return `[${items.join(',')}]`;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k], sortArrays)}`).join(',')}}`;
  }
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  byCategory: Map<string, { passed: number; failed: number; skipped: number }>;
}

export function summarise(results: CaseResult[]): Summary {
  const s: Summary = { passed: 0, failed: 0, skipped: 0, byCategory: new Map() };
  for (const r of results) {
    const c = s.byCategory.get(r.category) ?? { passed: 0, failed: 0, skipped: 0 };
    const key = r.outcome === 'pass' ? 'passed' : r.outcome === 'fail' ? 'failed' : 'skipped';
    c[key]++;
    s[key]++;
    s.byCategory.set(r.category, c);
  }
  return s;
}

/** The SDK throws Errors, strings (opa_abort) and plain `{message}` objects. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
