// The Rego checker: the compile-time checks OPA performs before evaluation, and
// the rewriting that makes modules ready to plan.
//
//   checkModules(modules) → { program?, errors }
//   checkQuery(body, program) → { query?, errors }
//
// Errors carry OPA's codes and the source location:
// - rego_unsafe_var_error  `var x is unsafe` (after reordering bodies for safety);
// - rego_recursion_error   `rule data.a.p is recursive: data.a.p -> data.a.q -> data.a.p`;
// - rego_type_error        undefined functions, wrong arity (`count: arity mismatch`,
//                          `function data.a.f has arity 2, got 1 argument`; one extra
//                          output argument is allowed at the top of an expression),
//                          arguments of the wrong kind (`count: invalid argument(s)`, for
//                          constants and for locals declared with a constant or a built-in
//                          result), built-ins without result used as values,
//                          conflicting rule kinds, two defaults, rules under complete rules,
//                          packages inside rules, bad `with` targets, deprecated built-ins;
// - rego_compile_error     `var x assigned above` / `referenced above` / `declared above`,
//                          `arg x redeclared`, `:=` on input/data or on anything but variables,
//                          arrays and objects of them (`cannot assign to number`), `:=` under
//                          `not`, `with` below a rule's value or on refused built-ins,
//                          bad or duplicate imports, imports
//                          shadowed by rules, default rules with variables in their head ref,
//                          networked built-ins (http.send…: refused unless allowNetworked).
// All errors are collected (not only the first).
//
// What the planner gets (see ./types.ts):
// - `program.groups`: every document defined by rules, keyed by `data.a.b.p`, with
//   its kind (complete | partial-object | multi-value | function + arity), its
//   default rule and its rules. In every checked rule:
//   * names are resolved: rules of the package and import aliases are full refs
//     (`data.a.b.q`, `input.x`), and bare `input`/`data` are one-element refs;
//     function calls name `data.…` functions or built-ins (`count`, `io.jwt.decode`);
//   * `:=`, `some` and `every` locals are renamed `name$N`, wildcards `_$N`
//     (`program.localNames` maps generated names back); `:=` becomes `=` (eq);
//   * `some v in xs` is `v = xs[_$N]`, `some k, v in xs` is `v = xs[k]`;
//   * in a negated expression, nested calls are evaluated first (`_$N = g(x); not f(_$N)`), as
//     OPA does unless the module imports `future.keywords(.not)` or `rego.v2`; comprehension
//     heads that compute something move to the end of their body;
//   * expressions are reordered for safety, closure bodies too;
//   * head terms that compute something (calls, refs, comprehensions: `f(x) := x + 1`,
//     `ms[m.z] := m`) are moved into the body as `_$N = term`, so heads hold only
//     variables and constants (default rules keep their constant value);
//   * `suffix` holds the dynamic part of a ref head (`p[x] := v` → `[x]`);
//     a missing value is the literal `true`; else chains are flattened in order;
//   * `print(…)` calls are left as written (the planner prints undefined arguments);
//     `with f as g` keeps `g` as a name (`data.a.g` or a built-in such as `count`).
// - `program.dependencies`: group → groups it refers to (acyclic). A ref with
//   variable elements (`data[x].allow`) touches every group its path can match.
// - `program.dependencies`: group → groups it refers to (acyclic).
// - `program.entrypoints`: from `# METADATA` `entrypoint: true`.
export { checkModules } from './program.js';
export { checkQuery } from './query.js';
export type {
  CheckedElse,
  CheckedProgram,
  CheckedQuery,
  CheckedRule,
  CheckOptions,
  Entrypoint,
  RuleGroup,
  RuleKind,
} from './types.js';
