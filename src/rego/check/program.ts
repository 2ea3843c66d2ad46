// checkModules: builds the rule groups of a set of modules, checks imports,
// conflicts, rule bodies (names, locals, calls, safety) and recursion.
import type { Body, Import, Location, Module, RegoError, Rule, Term } from '../ast.js';
import { CallChecker, calleeOf, type FunctionLookup } from './calls.js';
import {
  CheckContext,
  evaluates,
  isGenerated,
  mkRef,
  mkString,
  mkVar,
  pathName,
  refText,
} from './context.js';
import { dependencyGraph, recursionErrors } from './graph.js';
import { type Globals, Rewriter, Scope } from './rewrite.js';
import { type ArityOf, headVars, reorderBody, termVars, type UnsafeVar } from './safety.js';
import type {
  CheckedElse,
  CheckedProgram,
  CheckedRule,
  CheckOptions,
  Entrypoint,
  RuleGroup,
  RuleKind,
} from './types.js';

const FUTURE_KEYWORDS = new Set(['if', 'in', 'contains', 'every', 'not']);

interface Placed {
  module: Module;
  rule: Rule;
  pkg: string[];
  path: string[];
  /** Head ref elements after `path` (source terms, not yet rewritten). */
  suffix: Term[];
  kind: RuleKind;
  name: string;
}

function packagePath(m: Module): string[] {
  return m.package.path.terms.slice(1).map((t) => (t.type === 'string' ? t.value : '?'));
}

function headName(r: Rule): string {
  const h = r.head.ref.terms[0];
  return h?.type === 'var' ? h.name : h?.type === 'string' ? h.value : '?';
}

function placeRule(m: Module, rule: Rule, pkg: string[]): Placed {
  const path = [...pkg, headName(rule)];
  const rest = rule.head.ref.terms.slice(1);
  let i = 0;
  for (; i < rest.length; i++) {
    const t = rest[i] as Term;
    if (t.type !== 'string') break;
    path.push(t.value);
  }
  const suffix = rest.slice(i);
  const kind: RuleKind = rule.head.args
    ? 'function'
    : rule.head.contains
      ? 'multi-value'
      : suffix.length > 0
        ? 'partial-object'
        : 'complete';
  return { module: m, rule, pkg, path, suffix, kind, name: pathName('data', path) };
}

function varsIn(t: Term): Set<string> {
  const out = new Set<string>();
  termVars(t, out);
  return out;
}

/** Does evaluating this term do more than build a value from variables and constants? */
/** `import future.keywords`, `future.keywords.not` or `rego.v2`: a negation holds when any part of it is undefined. */
function newNegation(m: Module): boolean {
  return m.imports.some((imp) => {
    const [root, a, b] = imp.path.terms.map((t) =>
      t.type === 'string' ? t.value : t.type === 'var' ? t.name : '',
    );
    if (root === 'rego') return a === 'v2';
    return root === 'future' && a === 'keywords' && (b === undefined || b === 'not');
  });
}

function trueTerm(location: Location): Term {
  return { type: 'boolean', value: true, location };
}

function locText(l: Location): string {
  return `${l.file}:${l.line}`;
}

/** Name an import binds in its module (alias, or the last element of its path). */
function importName(imp: Import): string | undefined {
  if (imp.alias) return imp.alias;
  const last = imp.path.terms[imp.path.terms.length - 1];
  if (imp.path.terms.length === 1) return last?.type === 'var' ? last.name : undefined;
  return last?.type === 'string' ? last.value : undefined;
}

export function checkModules(
  modules: Module[],
  options: CheckOptions = {},
): { program?: CheckedProgram; errors: RegoError[] } {
  const ctx = new CheckContext(options.maxErrors ?? 1000);
  const placed: Placed[] = [];
  const packages: string[][] = [];
  const seenPkgs = new Set<string>();
  const rulesByPkg = new Map<string, Set<string>>();
  for (const m of modules) {
    const pkg = packagePath(m);
    const key = pathName('data', pkg);
    if (!seenPkgs.has(key)) {
      seenPkgs.add(key);
      packages.push(pkg);
    }
    let names = rulesByPkg.get(key);
    if (!names) rulesByPkg.set(key, (names = new Set()));
    for (const r of m.rules) {
      const n = headName(r);
      if (n === 'input' || n === 'data') {
        ctx.error('rego_compile_error', `rules must not shadow ${n} (use a different rule name)`, r.location);
        continue;
      }
      placed.push(placeRule(m, r, pkg));
      names.add(n);
    }
  }

  // ---------------------------------------------------------------- groups and conflicts
  const byName = new Map<string, Placed[]>();
  for (const p of placed) {
    const list = byName.get(p.name);
    if (list) list.push(p);
    else byName.set(p.name, [p]);
  }
  const kinds = new Map<string, { kind: RuleKind; arity?: number }>();
  for (const [name, list] of byName) {
    const first = list[0] as Placed;
    const nonDefault = list.filter((p) => !p.rule.default);
    const ks = new Set(list.map((p) => p.kind));
    const arities = new Set(
      list.filter((p) => p.kind === 'function').map((p) => p.rule.head.args?.length ?? 0),
    );
    if (ks.size > 1 || arities.size > 1) {
      // OPA names the conflict by the last rule's ref (with its dynamic keys, e.g. `data.x.p[k]`).
      const last = list[list.length - 1] as Placed;
      const shown =
        last.suffix.length > 0
          ? `${name}${refText({ ...last.rule.head.ref, terms: [{ type: 'var', name: '', location: last.rule.location }, ...last.suffix] })}`
          : name;
      ctx.error('rego_type_error', `conflicting rules ${shown} found`, first.rule.location);
    }
    const defaults = list.filter((p) => p.rule.default);
    if (defaults.length > 1) {
      ctx.error(
        'rego_type_error',
        `multiple default rules ${name} found at ${defaults.map((d) => locText(d.rule.location)).join(', ')}`,
        (defaults[0] as Placed).rule.location,
      );
    }
    const kind = (nonDefault[0] ?? first).kind;
    kinds.set(name, kind === 'function' ? { kind, arity: first.rule.head.args?.length ?? 0 } : { kind });
  }

  // A complete rule or function cannot have documents under it; a package cannot live inside a rule.
  const keyOf = (path: string[]) => JSON.stringify(path);
  const below = new Map<string, string[]>(); // path prefix → groups strictly below it
  const groupAt = new Map<string, Placed[]>(); // path → the group's rules
  for (const [name, list] of byName) {
    const path = (list[0] as Placed).path;
    groupAt.set(keyOf(path), list);
    for (let i = 1; i < path.length; i++) {
      const k = keyOf(path.slice(0, i));
      const l = below.get(k);
      if (l) l.push(name);
      else below.set(k, [name]);
    }
  }
  for (const [name, list] of byName) {
    // Rules with dynamic keys (`p[x] := …`, `p[x] contains …`) may overlap others: conflicts show at evaluation.
    if (list.some((p) => p.suffix.length > 0)) continue;
    const under = below.get(keyOf((list[0] as Placed).path));
    if (under)
      ctx.error(
        'rego_type_error',
        `rule ${name} conflicts with [${under.join(' ')}]`,
        (list[0] as Placed).rule.location,
      );
  }
  for (const m of modules) {
    const pkg = packagePath(m);
    for (let i = 1; i <= pkg.length; i++) {
      const list = groupAt.get(keyOf(pkg.slice(0, i)));
      // A package may live inside the dynamic extent of a rule (`p[x] := …`), not inside a ground one.
      if (!list || list.some((p) => p.suffix.length > 0)) continue;
      for (const r of list) {
        ctx.error(
          'rego_type_error',
          `package ${pkg.join('.')} conflicts with rule ${refText(r.rule.head.ref)} defined at ${locText(r.rule.location)}`,
          m.package.location,
        );
      }
    }
  }

  // ---------------------------------------------------------------- imports and globals
  const globalsOf = new Map<Module, Globals>();
  for (const m of modules) {
    const pkg = packagePath(m);
    const g: Globals = new Map();
    for (const n of rulesByPkg.get(pathName('data', pkg)) ?? []) {
      g.set(
        n,
        mkRef(
          [mkVar('data', m.package.location), ...[...pkg, n].map((s) => mkString(s, m.package.location))],
          m.package.location,
        ),
      );
    }
    const ruleNames = new Set(m.rules.map(headName));
    const importNames = new Map<string, Import>();
    for (const imp of m.imports) {
      const root = imp.path.terms[0];
      const rootName = root?.type === 'var' ? root.name : '';
      if (rootName === 'future') {
        const kw = imp.path.terms[2];
        const ok =
          imp.path.terms[1]?.type === 'string' &&
          (imp.path.terms[1] as { value: string }).value === 'keywords' &&
          imp.path.terms.length <= 3 &&
          (kw === undefined || (kw.type === 'string' && FUTURE_KEYWORDS.has(kw.value)));
        if (!ok) ctx.error('rego_compile_error', `unknown import: ${refText(imp.path)}`, imp.location);
        continue;
      }
      if (rootName === 'rego') {
        const v = imp.path.terms[1];
        if (imp.path.terms.length !== 2 || v?.type !== 'string' || (v.value !== 'v1' && v.value !== 'v2'))
          ctx.error(
            'rego_compile_error',
            `invalid import ${refText(imp.path)}, must be rego.v1 or rego.v2`,
            imp.location,
          );
        continue;
      }
      if (rootName !== 'data' && rootName !== 'input') {
        ctx.error(
          'rego_compile_error',
          `invalid import ${refText(imp.path)}: path must begin with input or data`,
          imp.location,
        );
        continue;
      }
      const name = importName(imp);
      if (!name) {
        ctx.error(
          'rego_compile_error',
          `invalid import ${refText(imp.path)}: cannot name it, use an alias`,
          imp.location,
        );
        continue;
      }
      if ((name === 'input' || name === 'data') && (imp.alias || imp.path.terms.length > 1)) {
        ctx.error('rego_compile_error', `import must not shadow ${name}`, imp.location);
        continue;
      }
      const prev = importNames.get(name);
      if (prev) {
        ctx.error('rego_compile_error', `import must not shadow import ${refText(prev.path)}`, imp.location);
        continue;
      }
      importNames.set(name, imp);
      // OPA accepts a rule named like an import (the import wins inside the module);
      // Airlock refuses it by default: the rule is then unreachable by its short name.
      if (ruleNames.has(name) && !options.allowImportShadowingRules) {
        const r = m.rules.find((x) => headName(x) === name) as Rule;
        ctx.error('rego_compile_error', `rule ${name} shadows import ${refText(imp.path)}`, r.location);
        continue;
      }
      if (name === 'input' || name === 'data') continue;
      g.set(name, imp.path);
    }
    globalsOf.set(m, g);
  }

  // ---------------------------------------------------------------- bodies
  const functions: FunctionLookup = (name) => {
    const k = kinds.get(name);
    return k ? { arity: k.arity ?? 0, isFunction: k.kind === 'function' } : undefined;
  };
  const arityOf: ArityOf = (call) => {
    const c = calleeOf(call, functions);
    if (c.kind === 'builtin')
      return c.builtin.hasResult && !c.builtin.signature.variadic ? c.builtin.arity : undefined;
    if (c.kind === 'function') return c.arity;
    return undefined;
  };
  const calls = new CallChecker(ctx, functions, options.allowNetworked === true);
  const reportUnsafe = (all: UnsafeVar[]) => {
    // Generated variables are only worth reporting when no variable of the source is unsafe.
    const named = all.filter((u) => !isGenerated(ctx.localNames.get(u.name) ?? u.name));
    const list = named.length > 0 ? named : all.slice(0, 1);
    const seen = new Set<string>();
    for (const u of list) {
      const name = ctx.localNames.get(u.name) ?? u.name;
      if (seen.has(u.name)) continue;
      seen.add(u.name);
      if (isGenerated(name)) ctx.error('rego_unsafe_var_error', 'expression is unsafe', u.location);
      else ctx.error('rego_unsafe_var_error', `var ${name} is unsafe`, u.location);
    }
  };

  const groups = new Map<string, RuleGroup>();
  for (const p of placed) {
    const rw = new Rewriter(ctx, globalsOf.get(p.module) as Globals, !newNegation(p.module));
    const ruleScope = new Scope();
    const args = p.rule.head.args ? rw.args(p.rule.head.args, ruleScope) : undefined;
    const argVars = new Set<string>();
    for (const a of args ?? []) termVars(a, argVars);

    const checkBody = (
      body: Body,
      head: { suffix?: Term[]; key?: Term; value?: Term },
      location: Location,
    ): { body: Body; suffix: Term[]; key?: Term; value?: Term } => {
      const scope = new Scope(ruleScope);
      for (const [k, v] of ruleScope.declared) scope.declared.set(k, v);
      for (const [k, v] of ruleScope.how) scope.how.set(k, v);
      const rewritten = rw.body(body, scope);
      // Head terms that evaluate something (calls, refs, comprehensions) move into the body
      // as `_$N = term`, so the planner only sees variables and constants in heads.
      const lift = (t: Term): Term => {
        if (p.rule.default || !evaluates(t)) return t;
        const v = mkVar(ctx.wildcard(), t.location);
        const eq = mkRef([mkVar('eq', t.location)], t.location);
        rewritten.push({
          node: { type: 'call', operator: eq, args: [v, t], location: t.location },
          negated: false,
          with: [],
          location: t.location,
        });
        return v;
      };
      const suffix = (head.suffix ?? []).map((t) => lift(rw.term(t, scope)));
      const key = head.key ? lift(rw.term(head.key, scope)) : undefined;
      const value = head.value ? lift(rw.term(head.value, scope)) : undefined;
      calls.body(rewritten);
      for (const t of [...suffix, ...(key ? [key] : []), ...(value ? [value] : [])]) calls.term(t, false);
      const r = reorderBody(rewritten, argVars, arityOf);
      const unsafe = [...r.unsafe];
      // Head variables must be bound by the body (or be arguments).
      headVars([...suffix, ...(key ? [key] : []), ...(value ? [value] : [])], r.safe, unsafe, location);
      reportUnsafe(unsafe);
      const out: { body: Body; suffix: Term[]; key?: Term; value?: Term } = { body: r.body, suffix };
      if (key) out.key = key;
      if (value) out.value = value;
      return out;
    };

    const h = p.rule.head;
    if (p.rule.default && p.suffix.some((t) => varsIn(t).size > 0)) {
      ctx.error(
        'rego_compile_error',
        `default rule ${p.name}: head ref cannot contain variables`,
        p.rule.location,
      );
      continue;
    }
    const main = checkBody(
      p.rule.body,
      {
        suffix: p.suffix,
        ...(h.key ? { key: h.key } : {}),
        value: h.contains ? undefined : (h.value ?? trueTerm(h.location)),
      },
      p.rule.location,
    );
    const elses: CheckedElse[] = [];
    for (let e = p.rule.else; e; e = e.else) {
      const r = checkBody(e.body, { value: e.value ?? trueTerm(e.location) }, e.location);
      elses.push({ value: r.value ?? trueTerm(e.location), body: r.body, location: e.location });
    }
    const checked: CheckedRule = {
      source: p.rule,
      file: p.module.file,
      packagePath: p.pkg,
      default: p.rule.default,
      suffix: main.suffix,
      body: main.body,
      else: elses,
      location: p.rule.location,
    };
    if (args) checked.args = args;
    if (main.key) checked.key = main.key;
    if (main.value && !h.contains) checked.value = main.value;

    let g = groups.get(p.name);
    if (!g) {
      const k = kinds.get(p.name) ?? { kind: p.kind };
      g = { path: p.path, name: p.name, kind: k.kind, rules: [], location: p.rule.location };
      if (k.arity !== undefined) g.arity = k.arity;
      groups.set(p.name, g);
    }
    if (p.rule.default && !g.default) g.default = checked;
    else if (!p.rule.default) g.rules.push(checked);
  }

  // ---------------------------------------------------------------- recursion
  const dependencies = dependencyGraph(groups);
  for (const e of recursionErrors(groups, dependencies, options.maxErrors ?? 1000))
    ctx.error(e.code, e.message, e.location);

  // ---------------------------------------------------------------- entrypoints
  const entrypoints: Entrypoint[] = [];
  const epSeen = new Set<string>();
  const addEp = (path: string[], annotations: NonNullable<Rule['annotations']>) => {
    const name = path.join('/');
    if (epSeen.has(name)) return;
    epSeen.add(name);
    entrypoints.push({ path, name, annotations });
  };
  for (const m of modules) {
    const pkg = packagePath(m);
    for (const a of m.annotations) {
      if (a.entrypoint && (a.scope === 'package' || a.scope === 'subpackages')) addEp(pkg, a);
    }
    for (const r of m.rules) {
      if (
        r.annotations?.entrypoint &&
        (r.annotations.scope === 'rule' || r.annotations.scope === 'document')
      ) {
        addEp(placeRule(m, r, pkg).path, r.annotations);
      }
    }
  }

  const fileOrder = new Map(modules.map((m, i) => [m.file, i]));
  const errors = sortErrors(ctx.errors, fileOrder);
  if (errors.length > 0) return { errors };
  return {
    program: { groups, dependencies, packages, entrypoints, localNames: ctx.localNames },
    errors,
  };
}

/** Errors in source order: modules in the order given, then position. */
export function sortErrors(errors: RegoError[], fileOrder: Map<string, number>): RegoError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort(
      (a, b) =>
        (fileOrder.get(a.e.location.file) ?? 1e9) - (fileOrder.get(b.e.location.file) ?? 1e9) ||
        a.e.location.offset - b.e.location.offset ||
        a.i - b.i,
    )
    .map((x) => x.e)
    .sort(
      (a, b) => Number(a.message === 'error limit reached') - Number(b.message === 'error limit reached'),
    );
}
