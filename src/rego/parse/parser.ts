// Recursive-descent parser for Rego v1 (what OPA 1.x accepts by default).
//
// Expressions use precedence climbing over OPA's binding order (lowest first):
//   `:=` `=`  <  `in` (and `k, v in`)  <  `==` `!=` `<` `<=` `>` `>=`  <  `|`  <  `&`
//   <  `+` `-`  <  `*` `/` `%`  <  terms (refs, calls, literals, `(…)`)
// Operators become calls of the built-in they stand for (see ast.ts).
//
// The parser never backtracks more than once per construct, so its cost is
// linear in the input. Nesting is bounded (MAX_NESTING) so that hostile input
// cannot exhaust the JavaScript stack. Errors are collected, not thrown: after
// an error inside a statement, parsing resumes at the next line that starts in
// column 1 with something that can begin a statement.

import type {
  ArrayTerm,
  Body,
  CallTerm,
  Comment,
  ElseClause,
  Every,
  Expr,
  Import,
  Location,
  Module,
  NumberTerm,
  Package,
  RefTerm,
  RegoError,
  Rule,
  RuleHead,
  SomeDecl,
  SomeIn,
  StringTerm,
  Term,
  VarTerm,
  With,
} from '../ast.js';
import { walkTerms } from '../walk.js';
import { type AnnotationTarget, attachAnnotations, parseAnnotationBlocks } from './annotations.js';
import { KEYWORDS, type LexComment, lex, type Token, type TokenKind } from './lexer.js';

/** Deepest nesting of terms and bodies accepted (brackets, parentheses, comprehensions, else chains). */
export const MAX_NESTING = 1000;

/** Thrown inside the parser to abandon the current statement once its error is recorded. */
class Abort extends Error {
  constructor() {
    super('rego parse aborted');
  }
}

const binaryPrecedence: Partial<Record<TokenKind, number>> = {
  '==': 1,
  '!=': 1,
  '<': 1,
  '<=': 1,
  '>': 1,
  '>=': 1,
  '|': 2,
  '&': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
};

const operatorBuiltin: Partial<Record<TokenKind, string>> = {
  '==': 'equal',
  '!=': 'neq',
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
  '|': 'or',
  '&': 'and',
  '+': 'plus',
  '-': 'minus',
  '*': 'mul',
  '/': 'div',
  '%': 'rem',
  ':=': 'assign',
  '=': 'eq',
};

const keywordKinds: ReadonlySet<TokenKind> = new Set<TokenKind>(KEYWORDS);

const futureKeywords = ['contains', 'every', 'if', 'in', 'not'];
const importRoots = ['data', 'future', 'input', 'rego'];

/** OPA's name for the kind of value a term holds, used in messages. */
export function termKindName(t: Term): string {
  switch (t.type) {
    case 'arraycomp':
      return 'arraycomprehension';
    case 'setcomp':
      return 'setcomprehension';
    case 'objectcomp':
      return 'objectcomprehension';
    default:
      return t.type;
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof':
      return 'eof token';
    case 'ident':
      return `ident token "${tok.text}"`;
    case 'number':
      return `number token ${clip(tok.text)}`;
    case 'string':
      return `string token ${clip(tok.text)}`;
    case 'illegal':
      return `illegal token ${clip(tok.text)}`;
    default:
      return keywordKinds.has(tok.kind) ? `${tok.kind} keyword` : `${tok.kind} token`;
  }
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > 24 ? `${one.slice(0, 21)}...` : one;
}

export interface ParsedSource {
  module?: Module;
  body?: Body;
  term?: Term;
  errors: RegoError[];
  comments: LexComment[];
}

export class Parser {
  private readonly toks: Token[];
  private i = 0;
  private depth = 0;
  private inModule = false;
  /** `not { … }` takes a body: after `import future.keywords(.not)` or `import rego.v2`. */
  private notBodies = false;
  /** The token the last `fail` stopped at. */
  private failedAt?: Token;
  readonly errors: RegoError[] = [];
  readonly comments: LexComment[];

  constructor(
    src: string,
    private readonly file: string,
  ) {
    const lexed = lex(src);
    this.toks = lexed.tokens;
    this.comments = lexed.comments;
    for (const e of lexed.errors) {
      this.errors.push({
        code: 'rego_parse_error',
        message: e.message,
        location: { file, line: e.line, col: e.col, offset: e.offset, end: e.end },
      });
    }
  }

  // ------------------------------------------------------------ entry points

  /** A whole module. `module` is only set when there are no errors. */
  parseModule(): { module?: Module; errors: RegoError[] } {
    this.inModule = true;
    let pkg: Package | undefined;
    const imports: Import[] = [];
    const rules: Rule[] = [];
    const first = this.peek();
    if (first.kind !== 'package' || this.isRefKeyword(this.i)) {
      if (first.kind === 'eof') this.reportAt(this.loc(first), 'empty module: package expected');
      else if (first.kind !== 'illegal')
        this.reportAt(this.loc(first), `package expected, found ${describe(first)}`);
      this.recover(-1);
    }
    while (this.peek().kind !== 'eof') {
      const start = this.i;
      this.depth = 0;
      try {
        const t = this.peek();
        if (t.kind === 'package' && !this.isRefKeyword(this.i)) {
          const p = this.parsePackage();
          if (pkg) this.reportAt(p.location, 'unexpected package: a module has only one package clause');
          else pkg = p;
        } else if (t.kind === 'import' && !this.isRefKeyword(this.i)) {
          imports.push(this.parseImport());
        } else {
          rules.push(...this.parseRules());
        }
      } catch (e) {
        this.absorb(e, start);
        this.recover(start);
      }
    }
    const comments: Comment[] = this.comments.map((c) => ({
      text: c.text,
      location: { file: this.file, line: c.line, col: c.col, offset: c.offset, end: c.end },
    }));
    const { blocks, errors: blockErrors } = parseAnnotationBlocks(comments);
    this.errors.push(...blockErrors);
    const targets: AnnotationTarget[] = [];
    if (pkg) targets.push({ kind: 'package', line: pkg.location.line });
    for (const imp of imports) targets.push({ kind: 'import', line: imp.location.line });
    for (const r of rules) {
      targets.push({
        kind: 'rule',
        line: r.location.line,
        attach: (a) => {
          r.annotations = a;
        },
      });
    }
    targets.sort((a, b) => a.line - b.line);
    const { annotations, errors: attachErrors } = attachAnnotations(blocks, targets);
    this.errors.push(...attachErrors);
    const errors = this.finishErrors();
    if (errors.length > 0 || !pkg) return { errors };
    return { module: { file: this.file, package: pkg, imports, rules, comments, annotations }, errors };
  }

  /** A query: literals separated by `;` or line breaks. */
  parseQuery(): { body?: Body; errors: RegoError[] } {
    let body: Body | undefined;
    try {
      if (this.peek().kind === 'eof') this.fail(this.peek(), 'empty query');
      body = this.parseBodyUntil('eof');
    } catch (e) {
      this.absorb(e);
    }
    const errors = this.finishErrors();
    return errors.length > 0 || !body ? { errors } : { body, errors };
  }

  /** One term, e.g. an input document written in Rego syntax. */
  parseTerm(): { term?: Term; errors: RegoError[] } {
    let term: Term | undefined;
    try {
      if (this.peek().kind === 'eof') this.fail(this.peek(), 'empty term');
      term = this.parseInfix(true);
      if (this.peek().kind !== 'eof') this.fail(this.peek(), 'expected end of term');
    } catch (e) {
      this.absorb(e);
    }
    const errors = this.finishErrors();
    return errors.length > 0 || !term ? { errors } : { term, errors };
  }

  /** Swallows the parser's own abort; turns a stack overflow into an error; rethrows anything else (a bug). */
  private absorb(e: unknown, start = 0): void {
    if (e instanceof Abort) return;
    if (!(e instanceof RangeError)) throw e;
    // Safety net: MAX_NESTING should stop hostile nesting before the stack runs out.
    const at = this.toks[start] ?? this.peek();
    this.reportAt(this.loc(at), 'nesting too deep: the parser ran out of stack');
  }

  // ------------------------------------------------------------ tokens, locations, errors

  private peek(): Token {
    return this.toks[this.i] ?? this.toks[this.toks.length - 1]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.toks.length - 1) this.i++;
    return t;
  }

  private prevEnd(): number {
    return this.toks[this.i - 1]?.end ?? 0;
  }

  private expect(kind: TokenKind, note?: string): Token {
    const t = this.peek();
    if (t.kind !== kind) this.fail(t, note ?? `expected ${kind}`);
    return this.next();
  }

  /** A keyword directly followed by `.` or `[` is the first name of a ref (`input.if`, `data.in[0]`). */
  private isRefKeyword(at: number): boolean {
    const t = this.toks[at];
    if (!t || !keywordKinds.has(t.kind)) return false;
    const n = this.toks[at + 1];
    return n !== undefined && !n.spaceBefore && (n.kind === '.' || n.kind === '[');
  }

  /** The next token begins a line in column 1 with something that starts a statement. */
  private atStatementStart(): boolean {
    const t = this.peek();
    if (!t.nlBefore || t.col !== 1) return false;
    return t.kind === 'ident' || t.kind === 'default' || t.kind === 'import' || t.kind === 'package';
  }

  private isName(at: number): boolean {
    const t = this.toks[at];
    return t !== undefined && (t.kind === 'ident' || this.isRefKeyword(at));
  }

  private loc(tok: Token, end = tok.end): Location {
    return { file: this.file, line: tok.line, col: tok.col, offset: tok.offset, end };
  }

  private span(from: Location, end = this.prevEnd()): Location {
    return { file: from.file, line: from.line, col: from.col, offset: from.offset, end };
  }

  private reportAt(location: Location, message: string): void {
    this.errors.push({ code: 'rego_parse_error', message, location });
  }

  private report(tok: Token, note?: string): void {
    // The lexer has already explained an illegal token.
    if (tok.kind === 'illegal') return;
    this.reportAt(
      this.loc(tok),
      note ? `unexpected ${describe(tok)}: ${note}` : `unexpected ${describe(tok)}`,
    );
  }

  private fail(tok: Token, note?: string): never {
    if (
      tok.kind === 'illegal' &&
      !this.errors.some(
        (e) => e.location.offset >= tok.offset && e.location.offset < Math.max(tok.end, tok.offset + 1),
      )
    ) {
      this.reportAt(this.loc(tok), `unexpected ${describe(tok)}`);
    }
    this.report(tok, note);
    this.failedAt = tok;
    throw new Abort();
  }

  private failAt(location: Location, message: string): never {
    this.reportAt(location, message);
    throw new Abort();
  }

  /** Skips to the next statement start after token index `from`: a name, `default`, `import` or `package` in column 1. */
  private recover(from: number): void {
    let j = Math.max(from + 1, 0);
    for (; j < this.toks.length - 1; j++) {
      const t = this.toks[j]!;
      if (t.col !== 1 || !(t.nlBefore || j === 0)) continue;
      if (t.kind === 'ident' || t.kind === 'default' || t.kind === 'import' || t.kind === 'package') break;
      if (this.isRefKeyword(j)) break;
    }
    this.i = j;
  }

  private finishErrors(): RegoError[] {
    const seen = new Set<string>();
    const out: RegoError[] = [];
    for (const e of this.errors) {
      const key = `${e.location.offset}:${e.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
    return out.sort((a, b) => a.location.offset - b.location.offset);
  }

  private enter(tok: Token): void {
    if (++this.depth > MAX_NESTING) {
      this.failAt(this.loc(tok), `nesting too deep: more than ${MAX_NESTING} levels of terms or bodies`);
    }
  }

  // ------------------------------------------------------------ statements

  private parsePackage(): Package {
    const kw = this.next();
    if (!this.isName(this.i)) this.fail(this.peek(), 'expected package path');
    const term = this.parseTermWithRefs();
    const data: VarTerm = { type: 'var', name: 'data', location: term.location };
    let terms: Term[];
    if (term.type === 'var') {
      terms = [data, { type: 'string', value: term.name, location: term.location }];
    } else if (term.type === 'ref' && term.terms[0]?.type === 'var') {
      const head = term.terms[0];
      terms = [
        { ...data, location: head.location },
        { type: 'string', value: head.name, location: head.location },
      ];
      for (const el of term.terms.slice(1)) {
        if (el.type !== 'string')
          this.failAt(el.location, `unexpected ${termKindName(el)} token: expecting string`);
        terms.push(el);
      }
    } else {
      this.failAt(term.location, `unexpected ${termKindName(term)} token: expected package path`);
    }
    return { path: { type: 'ref', terms, location: term.location }, location: this.span(this.loc(kw)) };
  }

  private parseImport(): Import {
    const kw = this.next();
    if (!this.isName(this.i)) this.fail(this.peek(), 'expected import path');
    const term = this.parseTermWithRefs();
    let path: RefTerm;
    if (term.type === 'var') path = { type: 'ref', terms: [term], location: term.location };
    else if (term.type === 'ref' && term.terms[0]?.type === 'var') path = term;
    else this.failAt(term.location, `unexpected ${termKindName(term)} token: expected import path`);
    for (const el of path.terms.slice(1)) {
      if (el.type !== 'string')
        this.failAt(el.location, `unexpected ${termKindName(el)} token: expecting string`);
    }
    const root = (path.terms[0] as VarTerm).name;
    if (!importRoots.includes(root)) {
      this.failAt(
        path.location,
        `unexpected import path, must begin with one of: {${importRoots.join(', ')}}, got: ${root}`,
      );
    }
    let alias: string | undefined;
    if (this.peek().kind === 'as') {
      this.next();
      const a = this.peek();
      if (a.kind !== 'ident') this.fail(a, 'expected var');
      this.next();
      alias = a.text;
    }
    const names = path.terms.slice(1).map((t) => (t as StringTerm).value);
    if (root === 'future') {
      if (names[0] !== 'keywords') this.failAt(path.location, 'invalid import, must be `future.keywords`');
      if (alias !== undefined) this.failAt(path.location, '`future` imports cannot be aliased');
      if (names.length > 2 || (names.length === 2 && !futureKeywords.includes(names[1]!))) {
        this.failAt(path.location, `unexpected keyword, must be one of [${futureKeywords.join(' ')}]`);
      }
      if (names.length === 1 || names[1] === 'not') this.notBodies = true;
    } else if (root === 'rego') {
      if (names.length !== 1 || (names[0] !== 'v1' && names[0] !== 'v2')) {
        this.failAt(path.location, `invalid import \`${refText(path)}\`, must be \`rego.v1\` or \`rego.v2\``);
      }
      if (names[0] === 'v2') this.notBodies = true;
    } else if (
      alias === undefined &&
      names.length > 0 &&
      keywordKinds.has(names[names.length - 1] as TokenKind)
    ) {
      const last = path.terms[path.terms.length - 1]!;
      this.failAt(
        last.location,
        `unexpected import path, must not end with a keyword, got: ${names[names.length - 1]}`,
      );
    }
    const imp: Import = { path, location: this.span(this.loc(kw)) };
    if (alias !== undefined) imp.alias = alias;
    return imp;
  }

  /** One rule statement; `p if { … } { … }` (chained bodies) yields several rules. */
  private parseRules(): Rule[] {
    const start = this.peek();
    let isDefault = false;
    if (start.kind === 'default' && !this.isRefKeyword(this.i)) {
      this.next();
      isDefault = true;
    }
    if (!this.isName(this.i)) {
      this.fail(this.peek(), isDefault ? 'expected rule name' : 'expected a rule, an import or a package');
    }
    const ruleLoc = this.loc(start);
    const head = this.parseRuleHead(isDefault);

    if (isDefault) {
      this.checkDefault(head, ruleLoc);
      return [{ default: true, head, body: [], hasIf: false, location: this.span(ruleLoc) }];
    }

    const after = this.peek();
    if (head.contains && (after.kind === ':=' || after.kind === '=')) {
      this.fail(
        after,
        'a multi-value rule (contains) has no value: use `p contains x` or `p[x] := v`, not both',
      );
    }
    const isFunction = head.args !== undefined;
    // v0's `p[x] { … }` / `p[x]` (partial set without `contains`) is an error in v1.
    const oldPartialSet =
      !head.contains && !isFunction && head.ref.terms.length === 2 && head.value === undefined;
    const rule: Rule = { default: false, head, body: [], hasIf: false, location: ruleLoc };
    const t = this.peek();
    if (t.kind === 'if' && !this.isRefKeyword(this.i)) {
      this.next();
      rule.hasIf = true;
      rule.body = this.parseRuleBody();
    } else if (t.kind === '{') {
      this.reportAt(ruleLoc, `\`if\` keyword is required before ${isFunction ? 'function' : 'rule'} body`);
      if (oldPartialSet) this.reportAt(ruleLoc, '`contains` keyword is required for partial set rules');
      rule.body = this.parseBracedBody();
    } else if (oldPartialSet) {
      this.reportAt(ruleLoc, '`contains` keyword is required for partial set rules');
    }

    if (this.peek().kind === 'else' && !this.isRefKeyword(this.i)) {
      const kw = this.peek();
      if (head.contains) this.fail(kw, 'else keyword cannot be used on multi-value rules');
      if (head.ref.terms.length > 1 && !isGround(head.ref.terms.slice(1))) {
        this.fail(kw, 'else keyword cannot be used on rules with variables in head');
      }
      rule.else = this.parseElse();
    }
    rule.location = this.span(ruleLoc);
    const rules = [rule];
    // `p if { a } { b }`: each further body is another rule with the same head.
    while (this.peek().kind === '{' && rule.body.length > 0) {
      const open = this.peek();
      if (rule.else) this.fail(open, 'expected else keyword');
      const body = this.parseBracedBody();
      rules.push({
        default: false,
        head: structuredClone(head),
        body,
        hasIf: rule.hasIf,
        location: this.span(this.loc(open)),
      });
    }
    return rules;
  }

  private parseRuleHead(isDefault: boolean): RuleHead {
    const nameTok = this.next();
    const nameVar: VarTerm = { type: 'var', name: nameTok.text, location: this.loc(nameTok) };
    let term: Term = nameVar;
    const t = this.peek();
    // The head's first `.`, `[` or `(` may follow a space (`p [x]`, `f (x)`); later ones may not.
    if (t.kind === '.' || t.kind === '[' || t.kind === '(') term = this.parseRefTail(nameVar, true);
    let head: RuleHead;
    if (term.type === 'var') {
      head = {
        ref: { type: 'ref', terms: [term], location: term.location },
        assign: false,
        contains: false,
        location: term.location,
      };
    } else if (term.type === 'ref' && term.terms[0]?.type === 'var') {
      head = { ref: term, assign: false, contains: false, location: term.location };
    } else if (term.type === 'call' && term.operator.terms[0]?.type === 'var') {
      head = { ref: term.operator, args: term.args, assign: false, contains: false, location: term.location };
    } else {
      this.failAt(term.location, `invalid rule head: unexpected ${termKindName(term)}`);
    }
    const name = refText(head.ref);
    const op = this.peek();
    if (op.kind === 'contains' && !this.isRefKeyword(this.i)) {
      if (head.args) {
        this.fail(
          op,
          `the contains keyword can only be used with multi-value rule definitions (e.g., ${name} contains <VALUE> { ... })`,
        );
      }
      this.next();
      if (!this.canStartTerm())
        this.fail(this.peek(), `expected rule key term (e.g., ${name} contains <VALUE> { ... })`);
      head.key = this.parseInfix(true);
      head.contains = true;
    } else if (op.kind === '=' || op.kind === ':=') {
      this.next();
      head.assign = op.kind === ':=';
      if (!this.canStartTerm() || this.atStatementStart()) {
        const what = head.args
          ? `function value term (e.g., ${name}(...) := <VALUE> { ... })`
          : isDefault
            ? `default rule value term (e.g., default ${name} := <VALUE>)`
            : `rule value term (e.g., ${name} := <VALUE> { ... })`;
        this.fail(this.peek(), `expected ${what}`);
      }
      head.value = this.parseInfix(true);
    }
    head.location = this.span(head.location);
    return head;
  }

  private checkDefault(head: RuleHead, ruleLoc: Location): void {
    if (!head.value) this.failAt(ruleLoc, 'illegal default rule (must have a value)');
    let bad: Term | undefined;
    walkTerms(
      head.value,
      (x) => {
        if (bad) return false;
        if (x.type === 'var' || x.type === 'ref' || x.type === 'call') {
          bad = x;
          return false;
        }
        return undefined;
      },
      false,
    );
    if (bad) this.failAt(ruleLoc, `illegal default rule (value cannot contain ${termKindName(bad)})`);
    const seen = new Set<string>();
    for (const a of head.args ?? []) {
      if (a.type !== 'var')
        this.failAt(ruleLoc, `illegal default rule (arguments cannot contain ${termKindName(a)})`);
      if (a.name !== '_' && seen.has(a.name)) {
        this.failAt(ruleLoc, `illegal default rule (arguments cannot be repeated ${a.name})`);
      }
      seen.add(a.name);
    }
  }

  /** The body after `if`: `{ … }` or a single literal. */
  private parseRuleBody(): Body {
    const t = this.peek();
    if (t.kind === 'eof') this.fail(t, 'rule body expected');
    if (t.kind !== '{') return [this.parseLiteral()];
    // `if {` nearly always opens a body; but OPA first tries a literal, so that
    // `p if {} ` (an empty object) or `p if {1} == x` still parse. Try the body
    // first and fall back to a literal only when the body does not fit.
    const save = this.i;
    const errLen = this.errors.length;
    const depth = this.depth;
    try {
      const body = this.parseBracedBody();
      const n = this.peek();
      if (n.kind === 'eof' || n.nlBefore || n.kind === 'else' || n.kind === '{' || n.kind === ';')
        return body;
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
    }
    const bodyErrors = this.errors.splice(errLen);
    this.i = save;
    this.depth = depth;
    try {
      const lit = this.parseLiteral();
      if (lit.node.type !== 'set') return [lit];
    } catch (e) {
      if (!(e instanceof Abort)) throw e;
    }
    this.errors.length = errLen;
    this.errors.push(...bodyErrors);
    this.depth = depth;
    if (bodyErrors.length > 0) throw new Abort();
    // The body was fine; whatever follows it on the same line is the next statement's problem.
    this.i = save;
    return this.parseBracedBody();
  }

  private parseBracedBody(): Body {
    const open = this.expect('{');
    this.enter(open);
    const body = this.parseBodyUntil('}');
    this.expect('}', 'expected } to close the body');
    this.depth--;
    return body;
  }

  private parseElse(): ElseClause {
    const kw = this.next();
    this.enter(kw);
    const clause: ElseClause = { assign: false, body: [], location: this.loc(kw) };
    const t = this.peek();
    if (t.kind === '=' || t.kind === ':=') {
      this.next();
      clause.assign = t.kind === ':=';
      if (!this.canStartTerm()) this.fail(this.peek(), 'expected else value term');
      clause.value = this.parseInfix(true);
    } else if (t.kind !== '{' && t.kind !== 'if') {
      this.fail(t, 'expected else value term or rule body');
    }
    const b = this.peek();
    if (b.kind === 'if' && !this.isRefKeyword(this.i)) {
      this.next();
      clause.body = this.parseRuleBody();
    } else if (b.kind === '{') {
      this.reportAt(this.loc(kw), '`if` keyword is required before rule body');
      clause.body = this.parseBracedBody();
    }
    if (this.peek().kind === 'else' && !this.isRefKeyword(this.i)) clause.else = this.parseElse();
    clause.location = this.span(clause.location);
    this.depth--;
    return clause;
  }

  // ------------------------------------------------------------ bodies and literals

  /** Literals separated by `;` or line breaks, up to (not including) `end`. */
  private parseBodyUntil(end: '}' | ']' | 'eof'): Body {
    const first = this.peek();
    if (first.kind === end) this.fail(first, 'found empty body');
    this.enter(first);
    const body: Body = [];
    for (;;) {
      body.push(this.parseLiteral());
      const t = this.peek();
      if (t.kind === ';') {
        this.next();
        continue;
      }
      if (t.kind === end) {
        this.depth--;
        return body;
      }
      if (!t.nlBefore) this.fail(t, `expected \\n or ; or ${end === 'eof' ? 'end of input' : end}`);
    }
  }

  private parseLiteral(): Expr {
    const start = this.peek();
    let negated = false;
    if (start.kind === 'not' && !this.isRefKeyword(this.i)) {
      this.next();
      negated = true;
    }
    const t = this.peek();
    let node: Expr['node'];
    if (negated && this.notBodies && t.kind === '{') {
      node = this.negatedBody();
    } else if (t.kind === 'some' && !this.isRefKeyword(this.i)) {
      if (negated) this.fail(t, "illegal negation of 'some'");
      node = this.parseSome();
    } else if (t.kind === 'every' && !this.isRefKeyword(this.i)) {
      if (negated) this.fail(t, "illegal negation of 'every'");
      node = this.parseEvery();
    } else {
      node = this.parseInfix(true);
      const op = this.peek();
      if (op.kind === ':=' || op.kind === '=') {
        this.next();
        this.expectOperand();
        const rhs = this.parseInfix(true);
        node = this.makeCall(operatorBuiltin[op.kind]!, op, [node, rhs]);
      }
    }
    const withs: With[] = [];
    while (this.peek().kind === 'with') withs.push(this.parseWith());
    return { node, negated, with: withs, location: this.span(this.loc(start)) };
  }

  /**
   * `not { a; b }` holds when the body has no solution; its locals stay inside. It is written
   * as the negation of `[true | a; b][0]`, which is defined exactly when the body has one.
   */
  private negatedBody(): Term {
    const at = this.loc(this.peek());
    const body = this.parseBracedBody();
    const location = this.span(at);
    const comp: Term = {
      type: 'arraycomp',
      term: { type: 'boolean', value: true, location },
      body,
      location,
    };
    return {
      type: 'ref',
      terms: [comp, { type: 'number', text: '0', location }],
      location,
      negatedBody: true,
    };
  }

  private parseWith(): With {
    const kw = this.next();
    if (!this.isName(this.i)) this.fail(this.peek(), 'expected ident');
    const target = this.parseTermWithRefs();
    let ref: RefTerm;
    if (target.type === 'var') ref = { type: 'ref', terms: [target], location: target.location };
    else if (target.type === 'ref') ref = target;
    else this.failAt(target.location, `unexpected ${termKindName(target)}: expected with target path`);
    this.expect('as', 'expected as keyword');
    if (!this.canStartTerm()) this.fail(this.peek(), 'expected with value term');
    const value = this.parseInfix(true);
    return { target: ref, value, location: this.span(this.loc(kw)) };
  }

  private parseSome(): SomeDecl | SomeIn {
    const kw = this.next();
    const first = this.parseBinary(1);
    const t = this.peek();
    if (t.kind === 'in') {
      this.next();
      const collection = this.parseBinary(1);
      return { type: 'somein', value: first, collection, location: this.span(this.loc(kw)) };
    }
    const vars: Term[] = [first];
    if (t.kind === ',') {
      this.next();
      const second = this.parseBinary(1);
      if (this.peek().kind === 'in') {
        this.next();
        const collection = this.parseBinary(1);
        return { type: 'somein', key: first, value: second, collection, location: this.span(this.loc(kw)) };
      }
      vars.push(second);
      while (this.peek().kind === ',') {
        this.next();
        if (this.peek().kind !== 'ident') this.fail(this.peek(), 'expected var');
        vars.push(this.parseBinary(1));
      }
    }
    for (const v of vars) {
      if (v.type !== 'var') this.failAt(v.location, `unexpected ${termKindName(v)}: expected var`);
    }
    return { type: 'some', vars: vars as VarTerm[], location: this.span(this.loc(kw)) };
  }

  private parseEvery(): Every {
    const kw = this.next();
    const first = this.parseBinary(1);
    let key: Term | undefined;
    let value = first;
    if (this.peek().kind === ',') {
      this.next();
      key = first;
      value = this.parseBinary(1);
    }
    if (this.peek().kind !== 'in') this.fail(this.peek(), 'expected `x[, y] in xs { ... }` expression');
    this.next();
    const domain = this.parseBinary(1);
    if (key && key.type !== 'var') this.failAt(key.location, 'expected key to be a variable');
    if (value.type !== 'var') this.failAt(value.location, 'expected value to be a variable');
    if (this.peek().kind !== '{') this.fail(this.peek(), 'missing body');
    const body = this.parseBracedBody();
    const every: Every = { type: 'every', value, domain, body, location: this.span(this.loc(kw)) };
    if (key) every.key = key;
    return every;
  }

  // ------------------------------------------------------------ expressions

  /**
   * After an operator: in a module, a line that starts in column 1 with a name is
   * the next statement, not the missing operand (`p := 1 +` then `q if …`).
   */
  private expectOperand(): void {
    if (!this.canStartTerm() || (this.inModule && this.atStatementStart()))
      this.fail(this.peek(), 'expected a term');
  }

  private canStartTerm(): boolean {
    switch (this.peek().kind) {
      case 'null':
      case 'true':
      case 'false':
      case 'number':
      case 'string':
      case 'ident':
      case 'contains':
      case '[':
      case '{':
      case '(':
      case '-':
      case '.':
        return true;
      default:
        return this.isRefKeyword(this.i);
    }
  }

  /** `in` level: `x in xs`, and with `keyValue`, `k, v in xs`. `first` is an already parsed leading term. */
  private parseInfix(keyValue: boolean, first?: Term): Term {
    let lhs = this.parseBinary(1, first);
    if (keyValue && this.peek().kind === ',') {
      const comma = this.next();
      const mhs = this.parseBinary(1);
      const op = this.peek();
      if (op.kind !== 'in' || this.isRefKeyword(this.i)) {
        this.fail(comma, 'expected `key, value in collection` (or the end of the expression) here');
      }
      this.next();
      const rhs = this.parseBinary(1);
      lhs = this.makeCall('internal.member_3', op, [lhs, mhs, rhs]);
    }
    while (this.peek().kind === 'in' && !this.isRefKeyword(this.i)) {
      const op = this.next();
      const rhs = this.parseBinary(1);
      lhs = this.makeCall('internal.member_2', op, [lhs, rhs]);
    }
    return lhs;
  }

  /** Binary operators at or above precedence `min`, left-associative. */
  private parseBinary(min: number, first?: Term): Term {
    let lhs = first ?? this.parseTermWithRefs();
    for (;;) {
      const op = this.peek();
      const prec = binaryPrecedence[op.kind];
      if (prec === undefined || prec < min) return lhs;
      this.next();
      this.expectOperand();
      const rhs = this.parseBinary(prec + 1);
      lhs = this.makeCall(operatorBuiltin[op.kind]!, op, [lhs, rhs]);
    }
  }

  private makeCall(name: string, op: Token, args: Term[]): CallTerm {
    const opLoc = this.loc(op);
    const dot = name.indexOf('.');
    const terms: Term[] =
      dot < 0
        ? [{ type: 'var', name, location: opLoc }]
        : [
            { type: 'var', name: name.slice(0, dot), location: opLoc },
            { type: 'string', value: name.slice(dot + 1), location: opLoc },
          ];
    const from = args[0]!.location;
    return {
      type: 'call',
      operator: { type: 'ref', terms, location: opLoc },
      args,
      location: this.span(from),
    };
  }

  /** A term with its ref/call continuation (`a.b[c]`, `f(x)[0]`). */
  private parseTermWithRefs(): Term {
    const start = this.peek();
    this.enter(start);
    let term = this.parseAtom();
    const t = this.peek();
    if ((t.kind === '.' || t.kind === '[' || t.kind === '(') && !t.spaceBefore) {
      term = this.parseRefTail(term, false);
    } else if (term.type === 'var' && (term.name === 'data' || term.name === 'input')) {
      term = { type: 'ref', terms: [term], location: term.location };
    }
    this.depth--;
    return term;
  }

  private parseAtom(): Term {
    const t = this.peek();
    switch (t.kind) {
      case 'null':
        this.next();
        return { type: 'null', location: this.loc(t) };
      case 'true':
      case 'false':
        if (this.isRefKeyword(this.i)) break;
        this.next();
        return { type: 'boolean', value: t.kind === 'true', location: this.loc(t) };
      case 'number':
        this.next();
        return this.makeNumber(t, '', t);
      case '-':
      case '.': {
        this.next();
        let prefix: string = t.kind;
        let n = this.peek();
        if (t.kind === '-' && n.kind === '.') {
          this.next();
          prefix = '-.';
          n = this.peek();
        }
        if (n.kind !== 'number') this.fail(n, 'expected number');
        this.next();
        return this.makeNumber(n, prefix, t);
      }
      case 'string': {
        this.next();
        const s: StringTerm = { type: 'string', value: t.value, location: this.loc(t) };
        if (t.raw) s.raw = true;
        return s;
      }
      case 'ident':
      case 'contains':
        this.next();
        return { type: 'var', name: t.text, location: this.loc(t) };
      case '[':
        return this.parseArray();
      case '{':
        return this.parseSetOrObject();
      case '(': {
        this.next();
        const inner = this.parseInfix(true);
        if (this.peek().kind !== ')') this.fail(this.peek(), 'expected ) (non-terminated expression)');
        this.next();
        return inner;
      }
      default:
        break;
    }
    if (this.isRefKeyword(this.i)) {
      this.next();
      return { type: 'var', name: t.text, location: this.loc(t) };
    }
    return this.fail(t, 'expected a term');
  }

  private makeNumber(numTok: Token, prefix: string, first: Token): NumberTerm {
    const text = prefix + numTok.text;
    if (!prefix.endsWith('.') && numTok.text.length > 1 && numTok.text[0] === '0') {
      const c1 = numTok.text[1];
      const ok = c1 === '.' || ((c1 === 'e' || c1 === 'E') && numTok.text.length > 2);
      if (!ok) this.fail(numTok, 'expected number without leading zero');
    }
    if (numberTooBig(text)) this.failAt(this.loc(first, numTok.end), `number too big: ${clip(text)}`);
    return { type: 'number', text, location: this.loc(first, numTok.end) };
  }

  /** Continues `head` with `.name`, `[term]` and `(args)`. */
  private parseRefTail(head: Term, allowSpaceFirst: boolean): Term {
    switch (head.type) {
      case 'var':
      case 'array':
      case 'object':
      case 'set':
      case 'arraycomp':
      case 'setcomp':
      case 'objectcomp':
      case 'call':
        break;
      default:
        this.failAt(head.location, `illegal ref (head cannot be ${termKindName(head)})`);
    }
    const terms: Term[] = [head];
    let firstStep = true;
    for (;;) {
      const t = this.peek();
      if (t.spaceBefore && !(firstStep && allowSpaceFirst)) break;
      firstStep = false;
      if (t.kind === '.') {
        this.next();
        const n = this.peek();
        if (n.spaceBefore || !(n.kind === 'ident' || keywordKinds.has(n.kind)))
          this.fail(n, 'expected ident');
        this.next();
        terms.push({ type: 'string', value: n.text, location: this.loc(n) });
      } else if (t.kind === '[') {
        this.next();
        this.enter(t);
        const el = this.parseInfix(true);
        this.depth--;
        this.expect(']', 'expected ]');
        terms.push(el);
      } else if (t.kind === '(') {
        const operator: RefTerm = { type: 'ref', terms, location: this.span(head.location) };
        this.next();
        this.enter(t);
        const args = this.parseTermList(')', []);
        this.depth--;
        let call: Term;
        if (args.length === 0 && terms.length === 1 && head.type === 'var' && head.name === 'set') {
          call = { type: 'set', items: [], location: this.span(head.location) };
        } else {
          call = { type: 'call', operator, args, location: this.span(head.location) };
        }
        const n = this.peek();
        if ((n.kind === '.' || n.kind === '[') && !n.spaceBefore) return this.parseRefTail(call, false);
        return call;
      } else {
        break;
      }
    }
    return { type: 'ref', terms, location: this.span(head.location) };
  }

  /** Terms separated by commas up to `end` (consumed); a trailing comma is allowed. */
  private parseTermList(end: ')' | ']' | '}', items: Term[]): Term[] {
    if (this.peek().kind === end) {
      this.next();
      return items;
    }
    for (;;) {
      items.push(this.parseInfix(false));
      const t = this.peek();
      if (t.kind === end) {
        this.next();
        return items;
      }
      if (t.kind !== ',') this.fail(t, `expected "," or "${end}"`);
      this.next();
      if (this.peek().kind === end) {
        this.next();
        return items;
      }
    }
  }

  private parseArray(): Term {
    const open = this.next();
    const at = this.loc(open);
    if (this.peek().kind === ']') {
      this.next();
      return { type: 'array', items: [], location: this.span(at) };
    }
    let maybeComprehension = true;
    if (this.peek().kind === ',') {
      // OPA accepts a leading comma (`[, a]`) for backwards compatibility.
      this.next();
      maybeComprehension = false;
    }
    const start = this.i;
    let head: Term | undefined = this.parseTermWithRefs();
    const t = this.peek();
    if (t.kind === '|' && maybeComprehension) {
      const body = this.tryComprehensionBody(']');
      if (body) return { type: 'arraycomp', term: head, body, location: this.span(at) };
      this.i = start; // `[a | b, c]`: an array whose first item is the union `a | b`
      head = undefined;
    }
    const first = this.parseInfix(false, head);
    const items = this.continueList(']', first);
    const arr: ArrayTerm = { type: 'array', items, location: this.span(at) };
    return arr;
  }

  private continueList(end: ']' | '}', first: Term): Term[] {
    const t = this.peek();
    if (t.kind === end) {
      this.next();
      return [first];
    }
    if (t.kind !== ',') this.fail(t, `expected "," or "${end}"`);
    this.next();
    return this.parseTermList(end, [first]);
  }

  private parseComprehensionBody(end: ']' | '}'): Body {
    const body = this.parseBodyUntil(end);
    this.expect(end, `expected ${end} to close the comprehension`);
    return body;
  }

  /**
   * After `head |`: a comprehension body, or undefined when the body stops at a comma — then,
   * as in OPA, the `|` is a set union inside a list (`[a | b, c]`, `{a | b, c}`, `{"k": a | b, …}`)
   * and the caller parses the list again from the head. Other failures are errors.
   */
  private tryComprehensionBody(end: ']' | '}'): Body | undefined {
    const errLen = this.errors.length;
    const depth = this.depth;
    this.next(); // the `|`
    this.failedAt = undefined;
    try {
      return this.parseComprehensionBody(end);
    } catch (e) {
      if (!(e instanceof Abort) || (this.failedAt as Token | undefined)?.kind !== ',') throw e;
      this.errors.length = errLen;
      this.depth = depth;
      return undefined;
    }
  }

  private parseSetOrObject(): Term {
    const open = this.next();
    const at = this.loc(open);
    if (this.peek().kind === '}') {
      this.next();
      return { type: 'object', entries: [], location: this.span(at) };
    }
    let maybeComprehension = true;
    if (this.peek().kind === ',') {
      this.next();
      maybeComprehension = false;
    }
    const start = this.i;
    let head = this.parseTermWithRefs();
    let t = this.peek();
    if (t.kind === '|' && maybeComprehension) {
      const body = this.tryComprehensionBody('}');
      if (body) return { type: 'setcomp', term: head, body, location: this.span(at) };
      this.i = start;
      head = this.parseInfix(false);
      t = this.peek();
    }
    const key = t.kind === ':' ? head : this.parseInfix(false, head);
    t = this.peek();
    if (t.kind !== ':') {
      if (t.kind !== ',' && t.kind !== '}') this.fail(t, 'expected "," or "}" (non-terminated set)');
      return { type: 'set', items: this.continueList('}', key), location: this.span(at) };
    }
    this.next();
    const valueStart = this.i;
    let v = this.parseTermWithRefs();
    if (this.peek().kind === '|' && maybeComprehension) {
      const body = this.tryComprehensionBody('}');
      if (body) return { type: 'objectcomp', key, value: v, body, location: this.span(at) };
      this.i = valueStart;
      v = this.parseInfix(false);
    }
    const entries: [Term, Term][] = [[key, this.parseInfix(false, v)]];
    for (;;) {
      const s = this.peek();
      if (s.kind === '}') {
        this.next();
        break;
      }
      if (s.kind !== ',') this.fail(s, 'expected "," or "}" (non-terminated object)');
      this.next();
      if (this.peek().kind === '}') {
        this.next();
        break;
      }
      const k = this.parseInfix(false);
      this.expect(':', 'expected ":"');
      entries.push([k, this.parseInfix(false)]);
    }
    return { type: 'object', entries, location: this.span(at) };
  }
}

/** True when none of `terms` contains a variable. */
function isGround(terms: Term[]): boolean {
  let ground = true;
  for (const t of terms) {
    walkTerms(t, (x) => {
      if (x.type === 'var') ground = false;
      return ground ? undefined : false;
    });
  }
  return ground;
}

/** `a.b["c d"][x]` as text, for messages. */
export function refText(ref: RefTerm): string {
  let out = '';
  ref.terms.forEach((t, i) => {
    if (i === 0) out += t.type === 'var' ? t.name : `(${termKindName(t)})`;
    else if (t.type === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(t.value)) out += `.${t.value}`;
    else if (t.type === 'string') out += `[${JSON.stringify(t.value)}]`;
    else if (t.type === 'var') out += `[${t.name}]`;
    else if (t.type === 'number') out += `[${t.text}]`;
    else out += `[${termKindName(t)}]`;
  });
  return out;
}

/**
 * OPA refuses numbers whose binary exponent exceeds ±100000 (about 10^±30103),
 * because converting them is not linear. We estimate the decimal exponent from
 * the literal text without converting it.
 */
function numberTooBig(text: string): boolean {
  let s = text.startsWith('-') ? text.slice(1) : text;
  let exp = 0;
  const e = s.search(/[eE]/);
  if (e >= 0) {
    const digits = s.slice(e + 1);
    if (digits.replace(/^[+-]/, '').replace(/^0+/, '').length > 7) return !isZeroMantissa(s.slice(0, e));
    exp = Number(digits);
    s = s.slice(0, e);
  }
  if (isZeroMantissa(s)) return false;
  const dot = s.indexOf('.');
  const intPart = (dot < 0 ? s : s.slice(0, dot)).replace(/^0+/, '');
  let magnitude: number;
  if (intPart.length > 0) magnitude = intPart.length - 1 + exp;
  else {
    const frac = dot < 0 ? '' : s.slice(dot + 1);
    const lead = frac.length - frac.replace(/^0+/, '').length;
    magnitude = -(lead + 1) + exp;
  }
  return magnitude > 30100 || magnitude < -30100;
}

function isZeroMantissa(s: string): boolean {
  return !/[1-9]/.test(s);
}
