// Rule coverage of the policy files by the selected tests, in two measures:
//
// - dynamic (`airlock test --coverage`): a rule definition is covered when, in
//   some test, it produced a value: the test module is compiled with a probe
//   after every statement that writes a rule's or function's value (see
//   probes.ts). A rule whose body never succeeded, or that a test replaced
//   with `with data.… as`, is not covered. A `default` counts when it applied.
// - static: a rule is covered when the test module's plan holds a statement
//   inside the rule's lines, i.e. some test references it, directly or
//   through other rules, whether or not it ever produced a value.
//
// Test files (`*_test.rego`) are left out of the figures.
import type { Module, Rule } from '../ast.js';
import type { Block, Policy, Stmt } from '../plan/ir.js';
import type { Probe } from './probes.js';

export interface FileCoverage {
  file: string;
  rules: number;
  covered: number;
  /** Rules not covered: `name (line N)`. */
  uncovered: { name: string; line: number }[];
}

export interface CoverageReport {
  measure: 'dynamic' | 'static';
  files: FileCoverage[];
  rules: number;
  covered: number;
  /** covered / rules × 100, rounded to one decimal (100 when there are no rules). */
  percent: number;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function ruleName(rule: Rule): string {
  return rule.head.ref.terms
    .map((t, i) =>
      t.type === 'var' ? t.name : t.type === 'string' ? (i === 0 ? t.value : `.${t.value}`) : '[…]',
    )
    .join('');
}

/** Rules of `modules` count as covered when one of `rows` (per file) falls within their lines. */
function ruleCoverage(
  measure: CoverageReport['measure'],
  rowsByFile: ReadonlyMap<string, ReadonlySet<number>>,
  modules: readonly Module[],
  texts: ReadonlyMap<string, string>,
): CoverageReport {
  const files: FileCoverage[] = [];
  for (const m of modules) {
    if (m.file.endsWith('_test.rego')) continue;
    const text = texts.get(m.file) ?? '';
    const rows = rowsByFile.get(m.file) ?? new Set<number>();
    const fc: FileCoverage = { file: m.file, rules: 0, covered: 0, uncovered: [] };
    for (const rule of m.rules) {
      const first = rule.location.line;
      const last = lineOf(text, rule.location.end);
      fc.rules++;
      let hit = false;
      for (let r = first; r <= last && !hit; r++) hit = rows.has(r);
      if (hit) fc.covered++;
      else fc.uncovered.push({ name: ruleName(rule), line: first });
    }
    files.push(fc);
  }
  const rules = files.reduce((n, f) => n + f.rules, 0);
  const covered = files.reduce((n, f) => n + f.covered, 0);
  const percent = rules === 0 ? 100 : Math.round((covered / rules) * 1000) / 10;
  return { measure, files, rules, covered, percent };
}

function planRows(policy: Policy): Map<string, Set<number>> {
  const rows = new Map<string, Set<number>>();
  const visitStmt = (s: Stmt): void => {
    const file = policy.static.files[s.loc.file] ?? '';
    let set = rows.get(file);
    if (!set) rows.set(file, (set = new Set()));
    set.add(s.loc.row);
    const nested: readonly Block[] = 'blocks' in s ? s.blocks : 'block' in s ? [s.block] : [];
    for (const b of nested) for (const inner of b.stmts) visitStmt(inner);
  };
  for (const f of policy.funcs) for (const b of f.blocks) for (const s of b.stmts) visitStmt(s);
  for (const p of policy.plans) for (const b of p.blocks) for (const s of b.stmts) visitStmt(s);
  return rows;
}

/** Static coverage: the rules the compiled test plan references. */
export function staticCoverage(
  plan: Policy,
  modules: readonly Module[],
  texts: ReadonlyMap<string, string>,
): CoverageReport {
  return ruleCoverage('static', planRows(plan), modules, texts);
}

/** Dynamic coverage: the rules whose value-producing statements fired a probe. */
export function dynamicCoverage(
  probes: readonly Probe[],
  hits: ReadonlySet<number>,
  modules: readonly Module[],
  texts: ReadonlyMap<string, string>,
): CoverageReport {
  const rows = new Map<string, Set<number>>();
  for (const id of hits) {
    const p = probes[id];
    if (!p) continue;
    let set = rows.get(p.file);
    if (!set) rows.set(p.file, (set = new Set()));
    set.add(p.row);
  }
  return ruleCoverage('dynamic', rows, modules, texts);
}
