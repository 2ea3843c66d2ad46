// Layout of a whole module: package, imports, rules, bodies, and where each
// comment and blank line goes.
//
// Comments are placed by location, in source order. Each comment is printed
// before the first node that starts after it (at that node's indentation), or
// at the end of the line of the node that ends just before it when the source
// had it there. Inside literals, calls and comprehensions printed over several
// lines, comments go between their items (terms.ts asks for them through
// CommentSink). A comment inside a construct printed on one line (an operator
// split over two lines, say) moves above the statement holding it, or below
// it when the statement placed other comments itself: comments may move, never
// disappear, and their order is kept.
//
// Blank lines: at most one is kept between two items where the source had one
// or more; a blank line always follows the package clause and the imports.
// With the source text at hand, this is read from the text; without it, it is
// inferred from offsets (trailing spaces may then read as a blank line).
import type { Body, Comment, ElseClause, Expr, Import, Module, RefTerm, Rule, RuleHead } from '../ast.js';
import { type CommentSink, printTerm, Slot, TermPrinter } from './terms.js';

/** Where an item (node or comment) sits in the source. */
interface Span {
  offset: number;
  end: number;
  line: number;
  col: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tabs(n: number): string {
  return '\t'.repeat(n);
}

class Layout implements CommentSink {
  private readonly comments: Comment[];
  private next = 0;
  /** Output lines (a line may hold several when a printed term spans lines). */
  readonly out: string[] = [];
  private readonly print = new TermPrinter(this);

  constructor(
    comments: readonly Comment[],
    private readonly source: string | undefined,
  ) {
    this.comments = [...comments].sort((a, b) => a.location.offset - b.location.offset);
  }

  // ------------------------------------------------------------ source geometry

  /** True when nothing but spaces separate offset `end` from the item `next` on its line. */
  private sameLine(end: number, next: Span): boolean {
    if (this.source !== undefined) return !this.source.slice(end, next.offset).includes('\n');
    return end >= next.offset - (next.col - 1);
  }

  /** True when the source has an empty line between `prev` and `next`. */
  private blankBetween(prev: Span, next: Span): boolean {
    if (this.source !== undefined) {
      const gap = this.source.slice(prev.end, next.offset);
      return /\n[ \t\r\f]*\n/.test(gap);
    }
    // Without the text: the whitespace from prev's end to the start of next's
    // line holds at least one line break per line; two or more chars mean a blank
    // line (or trailing spaces, which we cannot tell apart).
    return next.line - prev.line >= 2 && next.offset - (next.col - 1) - prev.end >= 2;
  }

  // ------------------------------------------------------------ comments

  private peek(): Comment | undefined {
    return this.comments[this.next];
  }

  private commentLine(c: Comment): string {
    return `#${c.text}`;
  }

  /**
   * Prints every pending comment that starts before `offset`, one per line at
   * `indent`, keeping single blank lines between them (and after `prev`, when
   * given). Returns the span of the last item printed (a comment, or `prev`).
   */
  flushBefore(offset: number, indent: number, prev: Span | undefined): Span | undefined {
    let last = prev;
    for (let c = this.peek(); c && c.location.offset < offset; c = this.peek()) {
      const span = commentSpan(c);
      if (last && this.blankBetween(last, span)) this.blank();
      this.out.push(`${tabs(indent)}${this.commentLine(c)}`);
      this.next++;
      last = span;
    }
    return last;
  }

  /** Whether a comment is pending before `offset`. */
  hasCommentBefore(offset: number): boolean {
    const c = this.peek();
    return c !== undefined && c.location.offset < offset;
  }

  /** Appends the next comment to the last line when the source had it on the line where `span` ends
   * (and before `limit`, the start of the next item). Returns the span extended over the comment. */
  trailing(span: Span, limit: number): Span {
    const c = this.peek();
    const text = this.takeTrailing(span.end, limit);
    if (text === undefined || !c) return span;
    this.out[this.out.length - 1] += ` ${text}`;
    return { ...span, end: commentSpan(c).end };
  }

  takeBefore(offset: number): string[] {
    const out: string[] = [];
    for (let c = this.peek(); c && c.location.offset < offset; c = this.peek()) {
      out.push(this.commentLine(c));
      this.next++;
    }
    return out;
  }

  takeTrailing(end: number, limit: number): string | undefined {
    const c = this.peek();
    if (!c || c.location.offset < end || c.location.offset >= limit || !this.sameLine(end, commentSpan(c)))
      return undefined;
    this.next++;
    return this.commentLine(c);
  }

  /**
   * Prints `render()`'s text at `indent` with the comments that sit inside
   * `[.., end)`: those the text did not place itself go above it when it placed
   * none (a comment inside an operator split over lines), below it otherwise
   * (so that their order is kept).
   */
  private emitWithInnerComments(indent: number, end: number, render: () => string): void {
    const before = this.next;
    const text = render();
    if (this.next === before) {
      this.flushBefore(end, indent, undefined);
      this.emit(indent, text);
    } else {
      this.emit(indent, text);
      this.flushBefore(end, indent, undefined);
    }
  }

  /** Any comments not printed yet (after the last node), with blank lines as in the source. */
  flushRest(prev: Span | undefined): void {
    this.flushBefore(Number.POSITIVE_INFINITY, 0, prev);
  }

  emit(indent: number, text: string): void {
    this.out.push(`${tabs(indent)}${text}`);
  }

  blank(): void {
    if (this.out.length > 0 && this.out[this.out.length - 1] !== '') this.out.push('');
  }

  maybeBlank(prev: Span | undefined, next: Span): void {
    if (prev && this.blankBetween(prev, next)) this.blank();
  }

  // ------------------------------------------------------------ statements

  /**
   * Prints the expressions of a braced body at `indent`, then the comments that
   * remain before `end` (the body's closing brace).
   */
  block(body: Body, indent: number, end: number): void {
    let prev: Span | undefined;
    for (let i = 0; i < body.length; i++) {
      const e = body[i] as Expr;
      const span = exprSpan(e);
      prev = this.flushBefore(span.offset, indent, prev);
      this.maybeBlank(prev, span);
      this.statement(e, indent);
      const nextStart = body[i + 1]?.location.offset ?? end;
      prev = this.trailing(span, nextStart);
    }
    this.flushBefore(end, indent, prev);
  }

  /** One expression of a body, on its own line(s). */
  private statement(e: Expr, indent: number): void {
    const n = e.node;
    if (n.type === 'every' && !e.negated) {
      const firstInner = n.body[0]?.location.offset ?? n.location.end;
      // Comments inside `every … in …` go inside the block, before its first expression.
      this.emit(indent, `${this.print.everyHeader(n, indent)} {`);
      this.flushBefore(firstInner, indent + 1, undefined);
      this.block(n.body, indent + 1, n.location.end);
      const withs = e.with.map((w) => ` ${this.print.with(w, indent)}`).join('');
      this.emit(indent, `}${withs}`);
      return;
    }
    this.emitWithInnerComments(indent, exprSpan(e).end, () => this.print.expr(e, indent));
  }

  // ------------------------------------------------------------ rules

  rule(r: Rule): Span {
    const headEnd = headSpanEnd(r.head);
    const hasBody = r.body.length > 0 || r.hasIf;
    let head = '';
    const render = () => {
      head = this.headText(r.head, r.default);
      return head;
    };
    if (!hasBody) {
      this.emitWithInnerComments(0, headEnd, render);
    } else {
      // Comments inside the head go above the rule (or below its first line, see emitWithInnerComments).
      const before = this.next;
      render();
      const placed = this.next !== before;
      if (!placed) this.flushBefore(headEnd, 0, undefined);
      const bodyEnd = r.else ? r.else.location.offset : r.location.end;
      this.body(`${head} if`, r.body, bodyEnd, {
        end: headEnd,
        line: r.head.location.line,
        headMultiline: head.includes('\n'),
      });
    }
    for (let el: ElseClause | undefined = r.else; el; el = el.else) this.elseClause(el);
    return { offset: r.location.offset, end: r.location.end, line: r.location.line, col: r.location.col };
  }

  /** `default p := 1`, `f(x) := y`, `p contains x`, `a.b[k] = v`, `p`. */
  private headText(h: RuleHead, isDefault: boolean): string {
    let out = isDefault ? 'default ' : '';
    out += this.print.ref(h.ref, 0);
    if (h.args) out += `(${h.args.map((a) => this.print.term(a, 0, Slot.Term)).join(', ')})`;
    if (h.contains && h.key) out += ` contains ${this.print.term(h.key, 0, Slot.Term)}`;
    if (h.value) out += ` ${h.assign ? ':=' : '='} ${this.print.term(h.value, 0, Slot.Term)}`;
    return out;
  }

  private elseClause(el: ElseClause): void {
    let text = 'else';
    if (el.value) text += ` ${el.assign ? ':=' : '='} ${this.print.term(el.value, 0, Slot.Term)}`;
    const last = this.out[this.out.length - 1];
    const braced = last === '}';
    const bodyEnd = el.else ? el.else.location.offset : el.location.end;
    const valueEnd = el.value ? el.value.location.end : el.location.offset + 'else'.length;
    if (braced) this.out.pop();
    const prefix = braced ? `} ${text}` : text;
    if (el.body.length === 0) {
      this.emit(0, prefix);
      return;
    }
    this.body(`${prefix} if`, el.body, bodyEnd, {
      end: valueEnd,
      line: el.value?.location.line ?? el.location.line,
      headMultiline: prefix.includes('\n'),
    });
  }

  /**
   * `prefix` is the rule head (or else clause) up to `if`. A body of one
   * expression that the source wrote on the head's line stays there
   * (`p if x`); anything else is a braced block.
   */
  private body(
    prefix: string,
    body: Body,
    end: number,
    head: { end: number; line: number; headMultiline: boolean },
  ): void {
    const [only] = body;
    if (body.length === 1 && only && !this.hasCommentBefore(end)) {
      // No comment lies in the body (checked above), so printing it places none.
      const text = this.print.expr(only, 0);
      const oneLine = !text.includes('\n') && !text.startsWith('{') && only.node.type !== 'every';
      const sameLine =
        this.source !== undefined
          ? !this.source.slice(head.end, only.location.offset).includes('\n')
          : !head.headMultiline && only.location.line === head.line;
      if (oneLine && sameLine) {
        this.emit(0, `${prefix} ${text}`);
        return;
      }
    }
    this.emit(0, `${prefix} {`);
    const first = body[0]?.location.offset ?? end;
    this.flushBefore(first, 1, undefined);
    this.block(body, 1, end);
    this.emit(0, '}');
  }

  // ------------------------------------------------------------ module

  module(m: Module): void {
    let prev = this.flushBefore(m.package.location.offset, 0, undefined);
    const pkg = spanOf(m.package.location);
    this.maybeBlank(prev, pkg);
    this.emit(0, `package ${printPath(m.package.path, 1)}`);
    const firstAfter =
      m.imports[0]?.location.offset ?? m.rules[0]?.location.offset ?? Number.POSITIVE_INFINITY;
    prev = this.trailing(pkg, firstAfter);

    const items: (Import | Rule)[] = [...m.imports, ...m.rules];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Import | Rule;
      const isImport = i < m.imports.length;
      const span = spanOf(item.location);
      // A blank line after the package clause and after the imports, always.
      if (i === 0 || i === m.imports.length) {
        this.blank();
        prev = undefined;
      }
      prev = this.flushBefore(span.offset, 0, prev);
      this.maybeBlank(prev, span);
      const printed = isImport ? this.importLine(item as Import) : this.rule(item as Rule);
      const limit = items[i + 1]?.location.offset ?? Number.POSITIVE_INFINITY;
      prev = this.trailing({ ...span, end: printed.end }, limit);
    }
    if (items.length === 0 && this.peek()) {
      this.blank();
      prev = undefined;
    }
    this.flushRest(prev);
  }

  private importLine(imp: Import): Span {
    this.flushBefore(imp.location.offset, 0, undefined);
    const alias = imp.alias !== undefined ? ` as ${imp.alias}` : '';
    this.emit(0, `import ${printPath(imp.path, 0)}${alias}`);
    return spanOf(imp.location);
  }
}

function spanOf(l: { offset: number; end: number; line: number; col: number }): Span {
  return { offset: l.offset, end: l.end, line: l.line, col: l.col };
}

function commentSpan(c: Comment): Span {
  return {
    offset: c.location.offset,
    end: c.location.offset + 1 + c.text.length,
    line: c.location.line,
    col: c.location.col,
  };
}

/** An expression's span, its `with` modifiers included. */
function exprSpan(e: Expr): Span {
  let end = e.location.end;
  for (const w of e.with) end = Math.max(end, w.location.end);
  if (e.node.type === 'every') end = Math.max(end, e.node.location.end);
  return { offset: e.location.offset, end, line: e.location.line, col: e.location.col };
}

/** A package or import path: dots for every identifier-shaped element (keywords
 * included, as in `future.keywords.if`), brackets otherwise. `skip` drops leading
 * elements (`data` of a package path). */
function printPath(path: RefTerm, skip: number): string {
  const parts = path.terms.slice(skip);
  let out = '';
  parts.forEach((p, i) => {
    const name = p.type === 'var' ? p.name : p.type === 'string' && IDENT.test(p.value) ? p.value : undefined;
    if (name !== undefined) out += i === 0 ? name : `.${name}`;
    else out += `[${printTerm(p, 0, Slot.Term)}]`;
  });
  return out;
}

/** Where a rule head ends: past its value, key and arguments. */
function headSpanEnd(h: RuleHead): number {
  let end = h.location.end;
  for (const t of [h.ref, h.key, h.value, ...(h.args ?? [])]) if (t) end = Math.max(end, t.location.end);
  return end;
}

/** Prints a module in canonical style. With `source` (the text it was parsed
 * from), blank lines and one-line bodies follow the text exactly; without it
 * they are inferred from locations. */
export function layoutModule(m: Module, source?: string): string {
  const layout = new Layout(m.comments, source);
  layout.module(m);
  const lines = layout.out;
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return `${lines.join('\n')}\n`;
}
