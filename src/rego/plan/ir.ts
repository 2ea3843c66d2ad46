// The plan IR: what the planner emits from checked Rego and the Wasm code
// generator (src/rego/wasm) consumes. Modelled on OPA's plan IR; Airlock's own
// types.
//
// Model
// - A Policy has static tables (strings, built-in functions, file names),
//   plans (one per entrypoint) and funcs (rules and functions).
// - Values live in numbered local slots (`Local`). In a plan, local 0 holds
//   `input` and local 1 holds `data` (INPUT, DATA); all other locals start
//   undefined. A func's params are bound to its `params` locals; by convention
//   the planner passes input and data as its first two arguments.
// - A local is either a value or *undefined*. Reading an undefined local as an
//   operand of a statement that needs a value makes that statement fail.
//
// Blocks and failure ("undefined")
// - A Block is a sequence of statements run in order. A statement that *fails*
//   (a condition not met, a lookup that yields nothing, a call whose result is
//   undefined) ends the innermost enclosing block early: control continues
//   right after that block, as if by `break 0`. Nothing else is undone.
// - `break N` leaves N + 1 enclosing blocks: 0 = the block it is in, 1 = the
//   block around that one, and so on. The blocks that count are: the blocks of
//   a plan or func, each block of a BlockStmt, and the single block of a
//   NotStmt, ScanStmt (one per iteration) or WithStmt.
// - A plan runs its blocks in order (a failed block just moves on to the next)
//   and returns its result set. A func runs its blocks in order; a ReturnLocal
//   returns at once; a func that ends without returning yields the value of its
//   `return` local (undefined when never assigned), so the CallStmt fails.
//
// Errors (conflicts) abort evaluation with a message naming the statement's
// source location: `file:row:col: eval_conflict_error: message`; the
// statements that can conflict take an optional `message` naming the rule.
//
// Every statement carries a Location: the index of its file in
// static.files, and a 1-based row and column.

/** Index of a local slot. */
export type Local = number;

/** The local holding `input` in a plan. */
export const INPUT: Local = 0;
/** The local holding `data` in a plan. */
export const DATA: Local = 1;

/** An operand: a local, a boolean constant, or a string constant (index in static.strings). */
export type Operand =
  | { readonly kind: 'local'; readonly local: Local }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'string'; readonly index: number };

export interface Location {
  /** Index in static.files. */
  readonly file: number;
  readonly row: number;
  readonly col: number;
}

export interface Policy {
  readonly static: Static;
  readonly plans: readonly Plan[];
  readonly funcs: readonly Func[];
}

export interface Static {
  /** String constants, referenced by index (operands, MakeNumberRef, With paths, CallDynamic). */
  readonly strings: readonly string[];
  /** Built-in functions the policy calls (by name, with their arity). */
  readonly builtinFuncs: readonly BuiltinFunc[];
  /** Source file names, referenced by Location.file. */
  readonly files: readonly string[];
}

export interface BuiltinFunc {
  /** OPA's name, e.g. `count`, `regex.match`, `internal.member_2`. */
  readonly name: string;
  /** Number of arguments (0..4 for host-supplied built-ins). */
  readonly arity: number;
}

/** An entrypoint: evaluates to a result set (usually `[{"result": value}]`). */
export interface Plan {
  /** Entrypoint name as exposed by the module, e.g. `airlock/decision`. */
  readonly name: string;
  readonly blocks: readonly Block[];
}

/** A rule or function body. */
export interface Func {
  /** Unique name, used by CallStmt. */
  readonly name: string;
  readonly params: readonly Local[];
  readonly return: Local;
  readonly blocks: readonly Block[];
  /** The path under which CallDynamicStmt finds this func, e.g. ['g0', 'data', 'x', 'allow']. */
  readonly path?: readonly string[];
}

export interface Block {
  readonly stmts: readonly Stmt[];
}

interface At {
  readonly loc: Location;
}

/**
 * The statements. "Fails" means: ends the enclosing block (see above).
 * Unless said otherwise, a statement fails when an operand it reads is undefined.
 */
export type Stmt =
  /** Calls a func (by name) or a built-in (static.builtinFuncs) with args; result := its value. Fails if undefined. */
  | (At & {
      readonly type: 'call';
      readonly func: string;
      readonly args: readonly Operand[];
      readonly result: Local;
    })
  /**
   * Calls the func whose `path` equals the operands' strings (each operand must be a string
   * value); result := its value. Fails when no func has that path and arity, or it returns undefined.
   */
  | (At & {
      readonly type: 'call-dynamic';
      readonly func: readonly Operand[];
      readonly args: readonly Local[];
      readonly result: Local;
    })
  /** Runs each block in order; a failure in one block moves on to the next. */
  | (At & { readonly type: 'block'; readonly blocks: readonly Block[] })
  /** Leaves `index` + 1 enclosing blocks. */
  | (At & { readonly type: 'break'; readonly index: number })
  /** target := source[key] (array index, object key, set member). Fails when absent or source is a scalar. */
  | (At & { readonly type: 'dot'; readonly source: Operand; readonly key: Operand; readonly target: Local })
  /** Fails unless a == b (OPA equality: 1 == 1.0). */
  | (At & { readonly type: 'equal'; readonly a: Operand; readonly b: Operand })
  /** Fails unless a != b (both defined). */
  | (At & { readonly type: 'not-equal'; readonly a: Operand; readonly b: Operand })
  /** Fails unless the source is an array. */
  | (At & { readonly type: 'is-array'; readonly source: Operand })
  /** Fails unless the source is an object. */
  | (At & { readonly type: 'is-object'; readonly source: Operand })
  /** Fails unless the source is a set. */
  | (At & { readonly type: 'is-set'; readonly source: Operand })
  /** Fails unless the local is defined. */
  | (At & { readonly type: 'is-defined'; readonly source: Local })
  /** Fails unless the local is undefined. */
  | (At & { readonly type: 'is-undefined'; readonly source: Local })
  /** target := number of elements (array, object, set) or code points (string). Fails for other values. */
  | (At & { readonly type: 'len'; readonly source: Operand; readonly target: Local })
  /** target := a new empty array (capacity is a hint). */
  | (At & { readonly type: 'make-array'; readonly capacity: number; readonly target: Local })
  /** target := a new empty object. */
  | (At & { readonly type: 'make-object'; readonly target: Local })
  /** target := a new empty set. */
  | (At & { readonly type: 'make-set'; readonly target: Local })
  /** target := null. */
  | (At & { readonly type: 'make-null'; readonly target: Local })
  /** target := the integer `value` (within ±2^53, JSON-safe in the IR's JSON form). */
  | (At & { readonly type: 'make-number-int'; readonly value: number; readonly target: Local })
  /** target := the exact number written as static.strings[index] (JSON number syntax). */
  | (At & { readonly type: 'make-number-ref'; readonly index: number; readonly target: Local })
  /** Runs the block; if the block completes, the NotStmt fails; if the block fails, execution continues. */
  | (At & { readonly type: 'not'; readonly block: Block })
  /** object[key] := value, replacing an existing value. The object must be one the plan made. */
  | (At & {
      readonly type: 'object-insert';
      readonly key: Operand;
      readonly value: Operand;
      readonly object: Local;
    })
  /**
   * object[key] := value; if key is present with a different value, evaluation aborts with
   * `eval_conflict_error` and `message` (default "object keys must be unique").
   */
  | (At & {
      readonly type: 'object-insert-once';
      readonly key: Operand;
      readonly value: Operand;
      readonly object: Local;
      readonly message?: string;
    })
  /**
   * target := recursive merge of objects a and b (a's values win unless both are objects).
   * Fails when both are undefined; one undefined side yields the other; a non-object side aborts
   * with `eval_conflict_error` and `message` (default "cannot merge a non-object value").
   */
  | (At & {
      readonly type: 'object-merge';
      readonly a: Local;
      readonly b: Local;
      readonly target: Local;
      readonly message?: string;
    })
  /** target := undefined. */
  | (At & { readonly type: 'reset-local'; readonly target: Local })
  /** Adds the value to the plan's result set. */
  | (At & { readonly type: 'result-set-add'; readonly value: Local })
  /** Returns the local's value (possibly undefined) from the enclosing func. Not allowed in plans. */
  | (At & { readonly type: 'return-local'; readonly source: Local })
  /**
   * For each element of the source (array: index/element; object: key/value; set: element/element),
   * binds key and value and runs the block; a failure ends that iteration only. Scalars and
   * undefined have no elements. Scan itself never fails.
   */
  | (At & {
      readonly type: 'scan';
      readonly source: Local;
      readonly key: Local;
      readonly value: Local;
      readonly block: Block;
    })
  /** Adds the value to the set. The set must be one the plan made. */
  | (At & { readonly type: 'set-add'; readonly value: Operand; readonly set: Local })
  /**
   * Runs the block with `local` replaced by a copy of it in which the document at `path`
   * (static.strings indices) is `value` (missing or non-object steps become objects; an empty
   * path replaces the whole local); the original value is restored when the block is left in
   * any way. The original document is never modified.
   */
  | (At & {
      readonly type: 'with';
      readonly local: Local;
      readonly path: readonly number[];
      readonly value: Operand;
      readonly block: Block;
    })
  /** array := array with value appended. The array must be one the plan made. */
  | (At & { readonly type: 'array-append'; readonly value: Operand; readonly array: Local })
  /** target := the integer `value` (same as make-number-int; kept for OPA's IR parity). */
  | (At & { readonly type: 'assign-int'; readonly value: number; readonly target: Local })
  /** target := source. Fails when the source is undefined. */
  | (At & { readonly type: 'assign-var'; readonly source: Operand; readonly target: Local })
  /**
   * target := source when target is undefined or already equal; otherwise evaluation aborts
   * with `eval_conflict_error` and `message` (default "complete rules must not produce multiple
   * outputs"; OPA says e.g. "rule data.x.p produced conflicting values").
   */
  | (At & {
      readonly type: 'assign-var-once';
      readonly source: Operand;
      readonly target: Local;
      readonly message?: string;
    })
  /** Does nothing. */
  | (At & { readonly type: 'nop' });

export type StmtType = Stmt['type'];

// ------------------------------------------------------------ helpers

export function local(n: Local): Operand {
  return { kind: 'local', local: n };
}

export function bool(value: boolean): Operand {
  return { kind: 'bool', value };
}

export function str(index: number): Operand {
  return { kind: 'string', index };
}

/** Statement types, for exhaustive checks and documentation. */
export const STMT_TYPES: readonly StmtType[] = [
  'call',
  'call-dynamic',
  'block',
  'break',
  'dot',
  'equal',
  'not-equal',
  'is-array',
  'is-object',
  'is-set',
  'is-defined',
  'is-undefined',
  'len',
  'make-array',
  'make-object',
  'make-set',
  'make-null',
  'make-number-int',
  'make-number-ref',
  'not',
  'object-insert',
  'object-insert-once',
  'object-merge',
  'reset-local',
  'result-set-add',
  'return-local',
  'scan',
  'set-add',
  'with',
  'array-append',
  'assign-int',
  'assign-var',
  'assign-var-once',
  'nop',
];
