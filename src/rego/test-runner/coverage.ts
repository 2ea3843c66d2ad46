// Static coverage: which rules of the policy files the selected tests compile in.
//
// What it measures: a rule counts as covered when the plan of the test module
// (one entrypoint per test) contains at least one statement located inside
// the rule's source lines, i.e. some test references it directly or through
// other rules. It does not say which branches ran or which rules produced a
// value; a rule whose every reference is replaced by `with data.… as` is not
// covered. Test files (`*_test.rego`) are left out of the figures.
import type { Module, Rule } from '../ast.js';
import type { Block, Policy, Stmt } from '../plan/ir.js';

export interface FileCoverage {
  file: string;
  rules: number;
  covered: number;
  /** Rules no test reaches: `name (line N)`. */
  uncovered: { name: string; line: number }[];
}

export interface CoverageReport {
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
    .map((t, i) => (t.type === 'var' ? t.name : t.type === 'string' ? (i === 0 ? t.value : `.${t.value}`) : '[…]'))
    .join('');
}

function collectRows(policy: Policy): Map<number, Set<number>> {
  const rows = new Map<number, Set<number>>();
  const visitStmt = (s: Stmt): void => {
    let set = rows.get(s.loc.file);
    if (!set) rows.set(s.loc.file, (set = new Set()));
    set.add(s.loc.row);
    const nested: readonly Block[] =
      'blocks' in s ? s.blocks : 'block' in s ? [s.block] : [];
    for (const b of nested) for (const inner of b.stmts) visitStmt(inner);
  };
  for (const f of policy.funcs) for (const b of f.blocks) for (const s of b.stmts) visitStmt(s);
  for (const p of policy.plans) for (const b of p.blocks) for (const s of b.stmts) visitStmt(s);
  return rows;
}

/** Coverage of the rules in `modules` (texts by file name) by the compiled test plan. */
export function staticCoverage(
  plan: Policy,
  modules: readonly Module[],
  texts: ReadonlyMap<string, string>,
): CoverageReport {
  const rowsByIndex = collectRows(plan);
  const rowsByFile = new Map<string, Set<number>>();
  plan.static.files.forEach((f, i) => {
    const rows = rowsByIndex.get(i);
    if (rows) rowsByFile.set(f, rows);
  });
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
  return { files, rules, covered, percent };
}
