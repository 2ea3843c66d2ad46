// Printing of terms, expressions and bodies in canonical Rego v1 syntax.
//
// Operators are calls in the AST (`x + y` is `plus(x, y)`); this module prints
// them back infix, adding parentheses only where the grammar's precedence
// requires them. Blank lines and most comments are the layout's job
// (layout.ts); this module only asks it (CommentSink) for the comments that go
// between the items of a construct printed over several lines. Multi-line
// constructs (comprehensions with several expressions or written over several
// lines, `every`, literals and calls written over several lines) are indented
// with tabs relative to the `indent` level they are printed at.
import type { Body, Every, Expr, Location, RefTerm, SomeIn, Term, With } from '../ast.js';

/** Binding strength of the infix operators, low to high. Atoms bind tightest. */
const Prec = {
  assign: 1, // `:=` and `=`
  member: 2, // `in`
  compare: 3, // `==` `!=` `<` `<=` `>` `>=`
  or: 4, // `|`
  and: 5, // `&`
  additive: 6, // `+` `-`
  multiplicative: 7, // `*` `/` `%`
  atom: 8,
} as const;

interface InfixOp {
  symbol: string;
  prec: number;
}

const infixOps: ReadonlyMap<string, InfixOp> = new Map([
  ['assign', { symbol: ':=', prec: Prec.assign }],
  ['eq', { symbol: '=', prec: Prec.assign }],
  ['internal.member_2', { symbol: 'in', prec: Prec.member }],
  ['equal', { symbol: '==', prec: Prec.compare }],
  ['neq', { symbol: '!=', prec: Prec.compare }],
  ['lt', { symbol: '<', prec: Prec.compare }],
  ['lte', { symbol: '<=', prec: Prec.compare }],
  ['gt', { symbol: '>', prec: Prec.compare }],
  ['gte', { symbol: '>=', prec: Prec.compare }],
  ['or', { symbol: '|', prec: Prec.or }],
  ['and', { symbol: '&', prec: Prec.and }],
  ['plus', { symbol: '+', prec: Prec.additive }],
  ['minus', { symbol: '-', prec: Prec.additive }],
  ['mul', { symbol: '*', prec: Prec.multiplicative }],
  ['div', { symbol: '/', prec: Prec.multiplicative }],
  ['rem', { symbol: '%', prec: Prec.multiplicative }],
]);

const MEMBER_3 = 'internal.member_3';

type Call = Extract<Term, { type: 'call' }>;

/** Words that cannot be written as a `.name` ref element or a bare identifier. */
const KEYWORDS: ReadonlySet<string> = new Set([
  'as',
  'contains',
  'default',
  'else',
  'every',
  'false',
  'if',
  'import',
  'in',
  'not',
  'null',
  'package',
  'some',
  'true',
  'with',
]);

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `s` can be written as `.s` in a reference. */
function isRefIdentifier(s: string): boolean {
  return IDENT.test(s) && !KEYWORDS.has(s);
}

/** The dotted name of a call's operator (`io.jwt.decode`), or undefined when it is not a plain name. */
function operatorName(op: RefTerm): string | undefined {
  const [head, ...path] = op.terms;
  if (head?.type !== 'var') return undefined;
  let name = head.name;
  for (const p of path) {
    if (p.type !== 'string') return undefined;
    name += `.${p.value}`;
  }
  return name;
}

function infixOf(t: Term): InfixOp | undefined {
  if (t.type !== 'call' || t.args.length !== 2) return undefined;
  const name = operatorName(t.operator);
  return name === undefined ? undefined : infixOps.get(name);
}

function isMember3(t: Term): boolean {
  return t.type === 'call' && t.args.length === 3 && operatorName(t.operator) === MEMBER_3;
}

/** The precedence a term is printed at (Prec.atom for anything not an infix operator). */
function precedenceOf(t: Term): number {
  if (isMember3(t)) return Prec.member;
  return infixOf(t)?.prec ?? Prec.atom;
}

/** Where a term is printed, which decides when it needs parentheses. */
export const Slot = {
  /** The whole of an expression: anything goes. */
  Expr: 0,
  /** A call argument, ref index, head value, `with` value: anything but `:=`/`=`,
   * and `k, v in xs` (its comma would split arguments). */
  Term: 1,
  /** An array or set element, an object key or value: as Term, and no bare `|`
   * (`[a | b]` reads as a comprehension). */
  Element: 2,
  /** The key and value of `some … in …` and `every … in …`: only operators that bind tighter than `|`. */
  Head: 3,
  /** The collection of `some … in xs` and `every … in xs`: no `in` (nor `:=`/`=`). */
  Collection: 5,
  /** A comprehension's head (before its `|`): a single term, no operator. */
  CompHead: 4,
} as const;
export type Slot = (typeof Slot)[keyof typeof Slot];

/** True when printing `t` in `slot` needs parentheses around it. */
function needsParens(t: Term, slot: Slot): boolean {
  const prec = precedenceOf(t);
  switch (slot) {
    case Slot.Expr:
      return false;
    case Slot.Term:
      return prec < Prec.member || isMember3(t);
    case Slot.Element:
      return prec < Prec.member || isMember3(t) || exposesOr(t);
    case Slot.Head:
      return prec < Prec.and;
    case Slot.CompHead:
      return prec < Prec.atom;
    case Slot.Collection:
      return prec <= Prec.member;
  }
}

/** True when the infix form of `t` has a `|` outside any parentheses. */
function exposesOr(t: Term): boolean {
  // Iterative down the left operands: a chain `a + b + … + z` may be thousands deep.
  for (let cur: Term = t; ; ) {
    const op = infixOf(cur);
    if (!op) return false;
    if (op.symbol === '|') return true;
    const [l, r] = (cur as Call).args as [Term, Term];
    const [leftMin, rightMin] = operandMins(op.prec);
    if (isBare(r, rightMin) && exposesOr(r)) return true;
    if (!isBare(l, leftMin)) return false;
    cur = l;
  }
}

/** True when `t` is printed without parentheses as an operand that must bind at least as tight as `min`. */
function isBare(t: Term, min: number): boolean {
  return precedenceOf(t) >= min && !isMember3(t);
}

/** Minimum precedence of the left and right operands printed without parentheses.
 * Operators are left-associative, except `:=`/`=`, which do not chain. */
function operandMins(prec: number): [number, number] {
  return [prec === Prec.assign ? prec + 1 : prec, prec + 1];
}

function tabs(n: number): string {
  return '\t'.repeat(n);
}

/** A Rego string literal for `value`: raw (backticks) when asked and possible, else a JSON-style escaped string. */
function formatString(value: string, raw = false): string {
  if (raw && !value.includes('`')) return `\`${value}\``;
  // JSON escaping is valid Rego escaping: `"`, `\`, control characters, lone surrogates.
  return JSON.stringify(value);
}

/**
 * Receives the comments that fall between the items of a construct printed
 * over several lines (the layout owns the comments; see layout.ts).
 */
export interface CommentSink {
  /** Texts (`# …`) of the pending comments that start before `offset`, consumed. */
  takeBefore(offset: number): string[];
  /** The text of the next comment when the source had it on the line where `end` is,
   * before `limit`, consumed; undefined otherwise. */
  takeTrailing(end: number, limit: number): string | undefined;
}

/** Prints terms, expressions and bodies; with a comment sink, places comments inside multi-line constructs. */
export class TermPrinter {
  constructor(private readonly sink?: CommentSink) {}

  /** Prints a term. `indent` is the nesting level of the line the term starts on. */
  term(t: Term, indent = 0, slot: Slot = Slot.Expr): string {
    const s = this.bare(t, indent);
    return needsParens(t, slot) ? `(${s})` : s;
  }

  private bare(t: Term, indent: number): string {
    switch (t.type) {
      case 'null':
        return 'null';
      case 'boolean':
        return t.value ? 'true' : 'false';
      case 'number':
        return t.text;
      case 'string':
        return formatString(t.value, t.raw === true);
      case 'var':
        return t.name;
      case 'ref':
        return this.ref(t, indent);
      case 'array':
        return this.items('[', ']', t.items, t.location, indent, (x, i) => this.term(x, i, Slot.Element));
      case 'set':
        if (t.items.length === 0) return 'set()';
        return this.items('{', '}', t.items, t.location, indent, (x, i) => this.term(x, i, Slot.Element));
      case 'object':
        return this.items(
          '{',
          '}',
          t.entries,
          t.location,
          indent,
          ([k, v], i) => `${this.term(k, i, Slot.Element)}: ${this.term(v, i, Slot.Element)}`,
          ([k, v]) => ({ offset: k.location.offset, end: v.location.end, line: k.location.line }),
        );
      case 'arraycomp':
        return this.comprehension(
          '[',
          ']',
          (i) => this.term(t.term, i, Slot.CompHead),
          t.body,
          t.location,
          indent,
        );
      case 'setcomp':
        return this.comprehension(
          '{',
          '}',
          (i) => this.term(t.term, i, Slot.CompHead),
          t.body,
          t.location,
          indent,
        );
      case 'objectcomp':
        return this.comprehension(
          '{',
          '}',
          (i) => `${this.term(t.key, i, Slot.CompHead)}: ${this.term(t.value, i, Slot.CompHead)}`,
          t.body,
          t.location,
          indent,
        );
      case 'call':
        return this.callTerm(t, indent);
    }
  }

  private callTerm(t: Call, indent: number): string {
    const op = infixOf(t);
    if (op) return this.infix(t, op, indent);
    if (isMember3(t)) {
      const [k, v, xs] = t.args as [Term, Term, Term];
      const key = this.operand(k, indent, Prec.member + 1);
      const value = this.operand(v, indent, Prec.member + 1);
      return `${key}, ${value} in ${this.operand(xs, indent, Prec.member + 1)}`;
    }
    return this.call(t, indent);
  }

  /**
   * `l op r`. A left-leaning chain of operators of one precedence (`a + b - c`,
   * thousands long in generated policies) is printed in a loop, not by recursion.
   */
  private infix(t: Call, op: InfixOp, indent: number): string {
    const [leftMin, rightMin] = operandMins(op.prec);
    const rights: [InfixOp, Term][] = [];
    let left: Term = t;
    for (let cur = infixOf(left); cur && cur.prec === op.prec; cur = infixOf(left)) {
      const [l, r] = (left as Call).args as [Term, Term];
      rights.push([cur, r]);
      left = l;
      if (op.prec === Prec.assign) break; // `:=`/`=` do not chain
    }
    let out = this.operand(left, indent, leftMin);
    for (let i = rights.length - 1; i >= 0; i--) {
      const [o, r] = rights[i] as [InfixOp, Term];
      // `x := k, v in xs` reads as intended: the tuple form may stand bare right of `:=`/`=`.
      out += ` ${o.symbol} ${this.operand(r, indent, rightMin, op.prec === Prec.assign)}`;
    }
    return out;
  }

  private call(t: Call, indent: number): string {
    const args = this.items('(', ')', t.args, t.location, indent, (x, i) => this.term(x, i, Slot.Term));
    return `${this.ref(t.operator, indent)}${args}`;
  }

  /** An operand of an infix operator: parenthesised when it binds looser than `min`. */
  private operand(t: Term, indent: number, min: number, tupleOk = false): string {
    const s = this.bare(t, indent);
    // Elsewhere `k, v in xs` as an operand needs parentheses: its comma would split it.
    return precedenceOf(t) < min || (isMember3(t) && !tupleOk) ? `(${s})` : s;
  }

  /** A reference: `a.b[x]["not an ident"]`. */
  ref(t: RefTerm, indent = 0): string {
    const [head, ...path] = t.terms;
    if (!head) return '';
    let out: string;
    if (head.type === 'var') out = head.name;
    else if (head.type === 'ref') out = this.ref(head, indent);
    else out = this.operand(head, indent, Prec.atom);
    for (const p of path) {
      // A raw string keeps its brackets and backticks: the AST records how it was written.
      if (p.type === 'string' && !p.raw && isRefIdentifier(p.value)) out += `.${p.value}`;
      else out += `[${this.term(p, indent, Slot.Term)}]`;
    }
    return out;
  }

  /**
   * Items of an array, set, object or argument list. On one line, unless the
   * source put some item on a later line than the opening bracket: then one
   * item per line, each followed by a comma (as `opa fmt` keeps such literals),
   * with the comments that sat between them.
   */
  private items<T>(
    open: string,
    close: string,
    items: readonly T[],
    where: Location,
    indent: number,
    print: (item: T, indent: number) => string,
    spanOf: (item: T) => { offset: number; end: number; line: number } = (x) =>
      (x as { location: Location }).location,
  ): string {
    const multiline = items.some((x) => spanOf(x).line > where.line);
    if (!multiline) return `${open}${items.map((x) => print(x, indent)).join(', ')}${close}`;
    const inner = tabs(indent + 1);
    let out = open;
    items.forEach((x, i) => {
      const span = spanOf(x);
      out += this.commentLines(span.offset, inner);
      out += `\n${inner}${print(x, indent + 1)},`;
      const next = items[i + 1];
      const trailing = this.sink?.takeTrailing(span.end, next ? spanOf(next).offset : where.end);
      if (trailing !== undefined) out += ` ${trailing}`;
    });
    out += this.commentLines(where.end - 1, inner);
    return `${out}\n${tabs(indent)}${close}`;
  }

  /** Comments pending before `offset`, each on its own line (each preceded by a line break). */
  private commentLines(offset: number, inner: string): string {
    return (this.sink?.takeBefore(offset) ?? []).map((c) => `\n${inner}${c}`).join('');
  }

  private comprehension(
    open: string,
    close: string,
    head: (indent: number) => string,
    body: Body,
    where: Location,
    indent: number,
  ): string {
    const [first] = body;
    const h = head(indent);
    const leading = first ? (this.sink?.takeBefore(first.location.offset) ?? []) : [];
    // One line for one expression, unless the source put it on a later line than the opening bracket.
    const oneLine =
      first !== undefined &&
      body.length === 1 &&
      leading.length === 0 &&
      first.node.type !== 'every' &&
      first.location.line <= where.line;
    if (first && oneLine) {
      return `${open}${h} | ${this.expr(first, indent)}${close}`;
    }
    const inner = tabs(indent + 1);
    let out = `${open}${h} |${leading.map((c) => `\n${inner}${c}`).join('')}`;
    for (const e of body) {
      out += this.commentLines(e.location.offset, inner);
      out += `\n${inner}${this.expr(e, indent + 1)}`;
    }
    out += this.commentLines(where.end - 1, inner);
    return `${out}\n${tabs(indent)}${close}`;
  }

  /** One expression of a body (over several lines for `every`). */
  expr(e: Expr, indent = 0): string {
    let node = this.exprNode(e.node, indent);
    // A line starting with `-` would continue the previous line's expression (`x` then `-1` reads as `x - 1`).
    if (!e.negated && node.startsWith('-')) node = `(${node})`;
    const withs = e.with.map((w) => ` ${this.with(w, indent)}`).join('');
    return `${e.negated ? 'not ' : ''}${node}${withs}`;
  }

  with(w: With, indent = 0): string {
    return `with ${this.ref(w.target, indent)} as ${this.term(w.value, indent, Slot.Term)}`;
  }

  private exprNode(n: Expr['node'], indent: number): string {
    switch (n.type) {
      case 'some':
        return `some ${n.vars.map((v) => v.name).join(', ')}`;
      case 'somein':
        return this.someIn(n, indent);
      case 'every': {
        const inner = tabs(indent + 1);
        let out = `${this.everyHeader(n, indent)} {`;
        for (const e of n.body) {
          out += this.commentLines(e.location.offset, inner);
          out += `\n${inner}${this.expr(e, indent + 1)}`;
        }
        out += this.commentLines(n.location.end - 1, inner);
        return `${out}\n${tabs(indent)}}`;
      }
      case 'ref': {
        const comp = n.terms[0];
        if (!n.negatedBody || comp?.type !== 'arraycomp') return this.term(n, indent, Slot.Expr);
        // `not { … }` as written (the parser holds it as `[true | …][0]`).
        const inner = tabs(indent + 1);
        let out = '{';
        for (const e of comp.body) {
          out += this.commentLines(e.location.offset, inner);
          out += `\n${inner}${this.expr(e, indent + 1)}`;
        }
        out += this.commentLines(n.location.end - 1, inner);
        return `${out}\n${tabs(indent)}}`;
      }
      default:
        return this.term(n, indent, Slot.Expr);
    }
  }

  private someIn(n: SomeIn, indent: number): string {
    const key = n.key ? `${this.term(n.key, indent, Slot.Head)}, ` : '';
    return `some ${key}${this.term(n.value, indent, Slot.Head)} in ${this.term(n.collection, indent, Slot.Collection)}`;
  }

  /** `every k, v in xs` (without the body). */
  everyHeader(n: Every, indent = 0): string {
    const key = n.key ? `${this.term(n.key, indent, Slot.Head)}, ` : '';
    return `every ${key}${this.term(n.value, indent, Slot.Head)} in ${this.term(n.domain, indent, Slot.Collection)}`;
  }
}

const plain = new TermPrinter();

/** A term in Rego syntax, without comments. */
export function printTerm(t: Term, indent = 0, slot: Slot = Slot.Expr): string {
  return plain.term(t, indent, slot);
}

/** Each expression on its own line at `indent`, every line ending with a newline. */
export function printBodyLines(body: Body, indent: number): string {
  return body.map((e) => `${tabs(indent)}${plain.expr(e, indent)}\n`).join('');
}
