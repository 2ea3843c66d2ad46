// The Rego abstract syntax tree: what the parser produces and every later stage
// (check, format, plan) consumes. Every node carries the location it came from.
//
// Design notes:
// - Operators are desugared into calls of the built-in they stand for
//   (`x + y` is a call of `plus`, `x = y` of `eq`, `x := y` of `assign`,
//   `x in xs` of `internal.member_2`, `k, v in xs` of `internal.member_3`);
//   the formatter prints them back in infix form.
// - Numbers keep their literal text: Rego numbers are arbitrary precision.
// - A reference `a.b[c]` is one `ref` term whose first element is the head
//   (usually a var) and whose path elements are terms (`.b` is the string "b").

export interface Location {
  /** File name as given to the parser (or a pseudo name such as `query`). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in Unicode code points. */
  col: number;
  /** 0-based offset in UTF-16 code units of the node's first character. */
  offset: number;
  /** 0-based offset just past the node's last character. */
  end: number;
}

// ---------------------------------------------------------------- terms

export interface NullTerm {
  type: 'null';
  location: Location;
}
export interface BooleanTerm {
  type: 'boolean';
  value: boolean;
  location: Location;
}
export interface NumberTerm {
  type: 'number';
  /** The literal as written (normalised only by dropping a leading `+`), e.g. `1`, `-3.25`, `1e400`. */
  text: string;
  location: Location;
}
export interface StringTerm {
  type: 'string';
  /** The decoded value. */
  value: string;
  /** True when written as a raw (backtick) string. */
  raw?: boolean;
  location: Location;
}
export interface VarTerm {
  type: 'var';
  /** Identifier; `_` is the wildcard (each occurrence is a distinct variable). */
  name: string;
  location: Location;
}
export interface RefTerm {
  type: 'ref';
  /** terms[0] is the head (a var, or a composite/call term); the rest is the path. */
  terms: Term[];
  location: Location;
  /** Parsed from a negated body `not { … }`: terms are `[true | …]` and `0` (see the parser). */
  negatedBody?: true;
}
export interface ArrayTerm {
  type: 'array';
  items: Term[];
  location: Location;
}
export interface ObjectTerm {
  type: 'object';
  entries: [Term, Term][];
  location: Location;
}
export interface SetTerm {
  type: 'set';
  /** `set()` and `{x, …}`; `{}` is an empty object, not a set. */
  items: Term[];
  location: Location;
}
export interface ArrayComprehension {
  type: 'arraycomp';
  term: Term;
  body: Body;
  location: Location;
}
export interface SetComprehension {
  type: 'setcomp';
  term: Term;
  body: Body;
  location: Location;
}
export interface ObjectComprehension {
  type: 'objectcomp';
  key: Term;
  value: Term;
  body: Body;
  location: Location;
}
export interface CallTerm {
  type: 'call';
  /** The function's name as a ref: `count`, `io.jwt.decode`, `data.lib.f`, `lib.f` (import-relative). */
  operator: RefTerm;
  args: Term[];
  location: Location;
}

export type ScalarTerm = NullTerm | BooleanTerm | NumberTerm | StringTerm;
export type Term =
  | ScalarTerm
  | VarTerm
  | RefTerm
  | ArrayTerm
  | ObjectTerm
  | SetTerm
  | ArrayComprehension
  | SetComprehension
  | ObjectComprehension
  | CallTerm;

// ---------------------------------------------------------------- expressions

/** `some x, y` — declares local variables. */
export interface SomeDecl {
  type: 'some';
  vars: VarTerm[];
  location: Location;
}
/** `some v in xs` / `some k, v in xs` — iterates a collection. */
export interface SomeIn {
  type: 'somein';
  key?: Term;
  value: Term;
  collection: Term;
  location: Location;
}
/** `every v in xs { … }` / `every k, v in xs { … }`. */
export interface Every {
  type: 'every';
  key?: Term;
  value: Term;
  domain: Term;
  body: Body;
  location: Location;
}

/** `with target as value` modifier on an expression. */
export interface With {
  target: RefTerm;
  value: Term;
  location: Location;
}

export interface Expr {
  /** A term (often a call; `x = y` is a call of `eq`), or a `some`/`every` form. */
  node: Term | SomeDecl | SomeIn | Every;
  negated: boolean;
  with: With[];
  location: Location;
}

export type Body = Expr[];

// ---------------------------------------------------------------- rules and modules

export interface RuleHead {
  /**
   * The rule's reference: ref.terms[0] is a var (the first name), the rest are
   * path elements (strings for `.name`, any term for `[…]`). `p` is a ref of one var.
   */
  ref: RefTerm;
  /** Function arguments, when the rule is a function (`f(x, y)`). */
  args?: Term[];
  /** Element of a multi-value (partial set) rule: `p contains key`. */
  key?: Term;
  /** Value of a single-value rule or function (`:= value` / `= value`); absent means `true`. */
  value?: Term;
  /** True for `:=`, false for `=` or no value. */
  assign: boolean;
  /** True for `contains`. */
  contains: boolean;
  location: Location;
}

/** One `else` link: `else := value if { body }` (value absent means `true`). */
export interface ElseClause {
  value?: Term;
  assign: boolean;
  body: Body;
  location: Location;
  else?: ElseClause;
}

export interface Rule {
  default: boolean;
  head: RuleHead;
  /** Empty for a rule without `if` body (e.g. `p := 1`), which is true. */
  body: Body;
  /** True when the rule was written with `if`. */
  hasIf: boolean;
  else?: ElseClause;
  annotations?: Annotations;
  location: Location;
}

export interface Package {
  /** data.<path…>: terms[0] is var `data`, the rest are strings. */
  path: RefTerm;
  location: Location;
}

export interface Import {
  /** `data.…`, `input.…`, `future.keywords…`, `rego.v1`. */
  path: RefTerm;
  alias?: string;
  location: Location;
}

export interface Comment {
  /** Text after the `#`, without the line break. */
  text: string;
  location: Location;
}

export type AnnotationScope = 'package' | 'rule' | 'document' | 'subpackages';

export interface Annotations {
  scope: AnnotationScope;
  title?: string;
  description?: string;
  entrypoint?: boolean;
  organizations?: string[];
  relatedResources?: { ref: string; description?: string }[];
  authors?: { name?: string; email?: string }[];
  schemas?: unknown[];
  custom?: Record<string, unknown>;
  /** The YAML text of the block, without the leading `#`s. */
  raw: string;
  location: Location;
}

export interface Module {
  file: string;
  package: Package;
  imports: Import[];
  rules: Rule[];
  comments: Comment[];
  /** Every `# METADATA` block, in source order (rule-scoped ones also hang on their rule). */
  annotations: Annotations[];
}

// ---------------------------------------------------------------- errors

export type RegoErrorCode =
  | 'rego_parse_error'
  | 'rego_compile_error'
  | 'rego_type_error'
  | 'rego_unsafe_var_error'
  | 'rego_recursion_error';

/** A problem found before evaluation, reported as `file:line:col: code: message`. */
export interface RegoError {
  code: RegoErrorCode;
  message: string;
  location: Location;
}

export function formatError(e: RegoError): string {
  return `${e.location.file}:${e.location.line}:${e.location.col}: ${e.code}: ${e.message}`;
}

/** Thrown (only) by the front end's entry points when they cannot return a result. */
export class RegoErrors extends Error {
  constructor(readonly errors: RegoError[]) {
    super(errors.map(formatError).join('\n'));
    this.name = 'RegoErrors';
  }
}
