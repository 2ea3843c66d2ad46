// Renders plan IR as readable text (for `airlock build --dump-plan`).
//
//   plan airlock/decision
//     block
//       dot input["tool"] -> l2                      # policy.rego:3:5
//       ...
//   func g0.data.x.allow(l0, l1) -> l2
//
// Locals print as l<N> (l0 = input and l1 = data in plans), string constants
// as JSON strings, statements with their source location as a trailing comment.
import type * as ir from './ir.js';

export interface PrintOptions {
  /** Append `# file:row:col` to each statement (default true). */
  readonly locations?: boolean;
}

export function printPolicy(policy: ir.Policy, options: PrintOptions = {}): string {
  const p = new Printer(policy, options.locations !== false);
  return p.render();
}

class Printer {
  private readonly out: string[] = [];

  constructor(
    private readonly policy: ir.Policy,
    private readonly locations: boolean,
  ) {}

  render(): string {
    const st = this.policy.static;
    if (st.files.length > 0) this.emit(0, `files ${st.files.map((f) => JSON.stringify(f)).join(', ')}`);
    st.strings.forEach((s, i) => {
      this.emit(0, `string ${i} = ${JSON.stringify(s)}`);
    });
    for (const b of st.builtinFuncs) this.emit(0, `builtin ${b.name}/${b.arity}`);
    for (const plan of this.policy.plans) {
      this.emit(0, `plan ${plan.name}`);
      for (const b of plan.blocks) this.block(b, 1);
    }
    for (const f of this.policy.funcs) {
      const path = f.path ? `  [path ${f.path.join('.')}]` : '';
      this.emit(0, `func ${f.name}(${f.params.map((p) => `l${p}`).join(', ')}) -> l${f.return}${path}`);
      for (const b of f.blocks) this.block(b, 1);
    }
    return `${this.out.join('\n')}\n`;
  }

  private emit(depth: number, text: string, loc?: ir.Location): void {
    let line = '  '.repeat(depth) + text;
    if (loc && this.locations) {
      const file = this.policy.static.files[loc.file] ?? `file${loc.file}`;
      line = `${line.padEnd(60)}  # ${file}:${loc.row}:${loc.col}`;
    }
    this.out.push(line);
  }

  private block(b: ir.Block, depth: number): void {
    this.emit(depth, 'block');
    for (const s of b.stmts) this.stmt(s, depth + 1);
  }

  private op(o: ir.Operand): string {
    switch (o.kind) {
      case 'local':
        return `l${o.local}`;
      case 'bool':
        return String(o.value);
      case 'string': {
        const s = this.policy.static.strings[o.index];
        return s === undefined ? `<string ${o.index}?>` : JSON.stringify(s);
      }
    }
  }

  private stmt(s: ir.Stmt, d: number): void {
    this.emit(d, this.describe(s), s.loc);
    for (const b of nested(s)) this.block(b, d + 1);
  }

  private describe(s: ir.Stmt): string {
    const L = (n: number) => `l${n}`;
    switch (s.type) {
      case 'call':
        return `${L(s.result)} = call ${s.func}(${s.args.map((a) => this.op(a)).join(', ')})`;
      case 'call-dynamic':
        return `${L(s.result)} = call-dynamic ${s.func.map((a) => this.op(a)).join('.')}(${s.args.map(L).join(', ')})`;
      case 'block':
        return 'block-stmt';
      case 'break':
        return `break ${s.index}`;
      case 'dot':
        return `${L(s.target)} = ${this.op(s.source)}[${this.op(s.key)}]`;
      case 'equal':
        return `${this.op(s.a)} == ${this.op(s.b)}`;
      case 'not-equal':
        return `${this.op(s.a)} != ${this.op(s.b)}`;
      case 'is-array':
      case 'is-object':
      case 'is-set':
        return `${s.type} ${this.op(s.source)}`;
      case 'is-defined':
      case 'is-undefined':
        return `${s.type} ${L(s.source)}`;
      case 'len':
        return `${L(s.target)} = len ${this.op(s.source)}`;
      case 'make-array':
        return `${L(s.target)} = make-array cap ${s.capacity}`;
      case 'make-object':
      case 'make-set':
      case 'make-null':
        return `${L(s.target)} = ${s.type}`;
      case 'make-number-int':
      case 'assign-int':
        return `${L(s.target)} = ${s.type} ${s.value}`;
      case 'make-number-ref': {
        const t = this.policy.static.strings[s.index];
        return `${L(s.target)} = make-number-ref ${t ?? `<string ${s.index}?>`}`;
      }
      case 'not':
        return 'not';
      case 'object-insert':
      case 'object-insert-once':
        return `${s.type} ${L(s.object)}[${this.op(s.key)}] = ${this.op(s.value)}`;
      case 'object-merge':
        return `${L(s.target)} = object-merge ${L(s.a)}, ${L(s.b)}`;
      case 'reset-local':
        return `reset ${L(s.target)}`;
      case 'result-set-add':
        return `result-set-add ${L(s.value)}`;
      case 'return-local':
        return `return ${L(s.source)}`;
      case 'scan':
        return `scan ${L(s.source)} as ${L(s.key)}, ${L(s.value)}`;
      case 'set-add':
        return `set-add ${L(s.set)} <- ${this.op(s.value)}`;
      case 'with': {
        const path = s.path.map((i) => this.policy.static.strings[i] ?? `<string ${i}?>`).join('.');
        return `with ${L(s.local)}${path ? `.${path}` : ''} = ${this.op(s.value)}`;
      }
      case 'array-append':
        return `array-append ${L(s.array)} <- ${this.op(s.value)}`;
      case 'assign-var':
        return `${L(s.target)} = ${this.op(s.source)}`;
      case 'assign-var-once':
        return `${L(s.target)} := once ${this.op(s.source)}`;
      case 'nop':
        return 'nop';
    }
  }
}

/** The blocks nested in a statement, printed below it. */
function nested(s: ir.Stmt): readonly ir.Block[] {
  switch (s.type) {
    case 'block':
      return s.blocks;
    case 'not':
    case 'scan':
    case 'with':
      return [s.block];
    default:
      return [];
  }
}
