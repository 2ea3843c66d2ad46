// The checker's output: what the planner (AST → IR) consumes.
import type { Annotations, Body, Every, Expr, Location, RefTerm, Rule, Term } from '../ast.js';

export type RuleKind = 'complete' | 'partial-object' | 'multi-value' | 'function';

/** One `else` link of a checked rule: its own body (reordered) and value. */
export interface CheckedElse {
  /** Value when this link's body succeeds; `true` literal when the source had none. */
  value: Term;
  body: Body;
  location: Location;
}

/** One rule after checking. Terms are copies of the source's, with locations kept. */
export interface CheckedRule {
  /** The rule as parsed (for messages, formatting, metadata). */
  source: Rule;
  /** File the rule came from. */
  file: string;
  /** Path of the rule's package, without `data` (e.g. `["a", "b"]`). */
  packagePath: string[];
  default: boolean;
  /**
   * Head reference elements after the group's path (the rule's dynamic keys):
   * empty for complete, function and plain multi-value rules; `[x]` for `p[x] := v`
   * (partial object) and for `p[x] contains v` (object of sets). Resolved and renamed.
   */
  suffix: Term[];
  /** Function arguments (resolved; wildcards renamed). */
  args?: Term[];
  /** The element of a multi-value rule (`p contains key`). */
  key?: Term;
  /** The value (single-value rules and functions); the literal `true` when the source had none. */
  value?: Term;
  /** The body, ready to plan: refs resolved, locals renamed, expressions reordered for safety. */
  body: Body;
  /** The else chain, in order. */
  else: CheckedElse[];
  location: Location;
}

/** All rules that define one document (or function) `data.<path>`. */
export interface RuleGroup {
  /** Full path without `data`, e.g. `["a", "b", "p"]` for `data.a.b.p`. */
  path: string[];
  /** Printable name, `data.a.b.p` (brackets for elements that are not identifiers). */
  name: string;
  kind: RuleKind;
  /** Number of arguments (functions only). */
  arity?: number;
  /** The `default` rule, if any. */
  default?: CheckedRule;
  /** The other rules, in source order (modules in the order given). */
  rules: CheckedRule[];
  /** Location of the first rule. */
  location: Location;
}

/** An entrypoint declared with `# METADATA` `entrypoint: true`. */
export interface Entrypoint {
  /** Path without `data` (a rule group's path or a package path). */
  path: string[];
  /** OPA's entrypoint name: the path joined with `/` (e.g. `airlock/decision`). */
  name: string;
  annotations: Annotations;
}

/**
 * A checked set of modules.
 *
 * - `groups`: every rule group, keyed by `name` (`data.a.b.p`), in source order.
 * - `dependencies`: for each group name, the names of the groups its rules
 *   (bodies, heads, else chains, `with` values) refer to — directly, by a ref
 *   to the group, to a document inside it, or to a prefix that contains it.
 *   Acyclic: recursion is an error.
 * - `packages`: every package path declared by a module.
 * - `entrypoints`: from `# METADATA` annotations with `entrypoint: true`.
 * - `localNames`: generated variable name → the name written in the source
 *   (for renamed `:=`/`some`/`every` locals; wildcards are absent).
 */
export interface CheckedProgram {
  groups: Map<string, RuleGroup>;
  dependencies: Map<string, Set<string>>;
  packages: string[][];
  entrypoints: Entrypoint[];
  localNames: Map<string, string>;
}

/** An ad-hoc query after checking. */
export interface CheckedQuery {
  /** The body ready to plan (same rewriting as rule bodies). */
  body: Body;
  /**
   * The query's result variables, in order of first appearance: `name` as
   * written, `var` as it appears in `body` (differs when renamed by `:=`).
   */
  bindings: { name: string; var: string }[];
  /** Rule groups the query refers to. */
  dependencies: Set<string>;
}

export interface CheckOptions {
  /** Accept networked built-ins (`http.send`…). Airlock's compiler never sets this. */
  allowNetworked?: boolean;
  /**
   * Accept a rule named like one of its module's imports, as OPA does (the import
   * then wins inside the module). Off by default: Airlock reports it as an error.
   */
  allowImportShadowingRules?: boolean;
  /** Stop collecting after this many errors (default 1000). */
  maxErrors?: number;
}

export type { Every, Expr, RefTerm, Term };
