// Finding the test rules in parsed modules.
import type { Module, Rule } from '../ast.js';

/** One test: a rule named `test_*` (not a function), identified by its full path. */
export interface TestCase {
  /** `data.airlock.decision_test.test_deny_revoked_user`. */
  name: string;
  /** The compile entrypoint: `airlock/decision_test/test_deny_revoked_user`. */
  entrypoint: string;
  /** `airlock.decision_test`. */
  package: string;
  /** Where the (first) definition of the rule is. */
  file: string;
  line: number;
  col: number;
}

export function isTestRuleName(name: string): boolean {
  return name.startsWith('test_');
}

function packagePath(m: Module): string[] | undefined {
  const out: string[] = [];
  for (const t of m.package.path.terms.slice(1)) {
    if (t.type !== 'string') return undefined;
    out.push(t.value);
  }
  return out;
}

/** The rule's name when it is a plain `name` or `name if …` rule (no ref head, no args). */
function plainName(rule: Rule): string | undefined {
  if (rule.head.args || rule.head.contains || rule.head.key) return undefined;
  if (rule.head.ref.terms.length !== 1) return undefined;
  const head = rule.head.ref.terms[0];
  return head?.type === 'var' ? head.name : undefined;
}

/**
 * Every `test_*` rule of the modules, in module then source order. A test
 * defined more than once in a package (incremental definitions) is one test,
 * located at its first definition, as its value is the rules' combined value.
 */
export function discoverTests(modules: readonly Module[]): TestCase[] {
  const seen = new Set<string>();
  const tests: TestCase[] = [];
  for (const m of modules) {
    const pkg = packagePath(m);
    if (!pkg) continue;
    for (const rule of m.rules) {
      const name = plainName(rule);
      if (!name || !isTestRuleName(name)) continue;
      const path = [...pkg, name];
      const entrypoint = path.join('/');
      if (seen.has(entrypoint)) continue;
      seen.add(entrypoint);
      tests.push({
        name: `data.${path.join('.')}`,
        entrypoint,
        package: pkg.join('.'),
        file: rule.location.file,
        line: rule.location.line,
        col: rule.location.col,
      });
    }
  }
  return tests;
}
