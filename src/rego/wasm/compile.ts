// Plan IR → WebAssembly, linked into the runtime module. See index.ts for the design notes.
import binaryen from 'binaryen';
import type * as ir from '../plan/ir.js';
import {
  BUILTIN_ERROR_IMPORT,
  FORBIDDEN_BUILTINS,
  HOST_CALL_SITE_EXPORT,
  hostImportName,
  MAX_HOST_ARITY,
  NATIVE_BUILTINS,
  NATIVE_DEFER,
  NATIVE_ERROR_LIMIT,
} from './builtins.js';
import { runtimeWasm } from './runtime-module.js';
import { StaticData } from './static-data.js';

export interface CompileOptions {
  /** Run binaryen's optimiser (default true). */
  readonly optimize?: boolean;
}

/** A plan that cannot be compiled; the message starts with `file:row:col:` when the plan says where. */
export class WasmCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmCompileError';
  }
}

const i32 = binaryen.i32;
const none = binaryen.none;

const T_ARRAY = 5;
const T_OBJECT = 6;
const T_SET = 7;

const ABI_EXPORTS = new Set([
  HOST_CALL_SITE_EXPORT,
  'memory',
  'eval',
  'opa_eval',
  'opa_malloc',
  'opa_free',
  'opa_heap_ptr_get',
  'opa_heap_ptr_set',
  'opa_json_parse',
  'opa_json_dump',
  'opa_value_parse',
  'opa_value_dump',
  'opa_value_add_path',
  'opa_value_remove_path',
  'opa_eval_ctx_new',
  'opa_eval_ctx_set_input',
  'opa_eval_ctx_set_data',
  'opa_eval_ctx_set_entrypoint',
  'opa_eval_ctx_get_result',
]);

const FEATURES =
  binaryen.Features.MVP |
  binaryen.Features.MutableGlobals |
  binaryen.Features.SignExt |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.NontrappingFPToInt;

/**
 * The passes run on each generated function. The generated code is mostly calls into the runtime,
 * so binaryen's full -O2 pipeline (mod.optimizeFunction) bought no measurable evaluation speed on
 * the reference policies and bench/fixtures/gateway.rego while taking most of the compile time
 * (`npm run bench:eval` prints both); these local clean-ups keep the module small.
 */
const PASSES = [
  'remove-unused-brs',
  'merge-blocks',
  'simplify-locals-nostructure',
  'vacuum',
  'coalesce-locals',
];

/** Compiles a plan IR policy to a Wasm module implementing OPA's Wasm ABI 1.2. */
export function compileToWasm(policy: ir.Policy, options: CompileOptions = {}): Uint8Array {
  validatePolicy(policy);
  const mod = binaryen.readBinary(runtimeWasm());
  try {
    mod.setFeatures(FEATURES);
    const linker = new Linker(mod, policy);
    linker.link();
    if (!mod.validate()) throw new WasmCompileError('internal error: generated module does not validate');
    if (options.optimize !== false) {
      // The runtime is optimised already (by asc -O3): only the generated functions get
      // passes, cheap local ones (PASSES), then what nothing reaches is dropped.
      binaryen.setOptimizeLevel(2);
      binaryen.setShrinkLevel(0);
      binaryen.setDebugInfo(false);
      for (const name of linker.generatedFunctions) mod.runPassesOnFunction(name, PASSES);
      mod.runPasses(['remove-unused-module-elements', 'reorder-functions', 'reorder-globals']);
    }
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

function where(policy: ir.Policy, loc: ir.Location | undefined): string {
  if (!loc) return '';
  const file = policy.static.files[loc.file] ?? `<file ${loc.file}>`;
  return `${file}:${loc.row}:${loc.col}: `;
}

/** `file:row`: how OPA locates a built-in error (its Location.String()). */
function callSite(policy: ir.Policy, loc: ir.Location | undefined): string {
  if (!loc) return '';
  const file = policy.static.files[loc.file] ?? `<file ${loc.file}>`;
  return `${file}:${loc.row}`;
}

function validatePolicy(policy: ir.Policy): void {
  const names = new Set<string>();
  for (const f of policy.funcs) {
    if (names.has(f.name)) throw new WasmCompileError(`duplicate func name ${JSON.stringify(f.name)}`);
    names.add(f.name);
  }
  const plans = new Set<string>();
  for (const p of policy.plans) {
    if (plans.has(p.name)) throw new WasmCompileError(`duplicate plan name ${JSON.stringify(p.name)}`);
    plans.add(p.name);
  }
  const builtins = new Set<string>();
  for (const b of policy.static.builtinFuncs) {
    const forbidden = FORBIDDEN_BUILTINS.get(b.name);
    if (forbidden)
      throw new WasmCompileError(`built-in ${b.name} ${forbidden}: not allowed in compiled policies`);
    if (builtins.has(b.name)) throw new WasmCompileError(`duplicate built-in ${JSON.stringify(b.name)}`);
    if (names.has(b.name))
      throw new WasmCompileError(`built-in ${JSON.stringify(b.name)} clashes with a func name`);
    builtins.add(b.name);
  }
}

// Memoisation of rules' funcs (see addMemoised): the evaluation's table and its input and data.
const MEMO_TABLE = 'memo_table';
const MEMO_INPUT = 'memo_input';
const MEMO_DATA = 'memo_data';
/** Name suffix of a memoised func's body. */
const MEMO_BODY_SUFFIX = '.body';

/** One compiled func: its wasm name and parameter count. */
interface FuncSig {
  readonly wasmName: string;
  readonly arity: number;
  /** For a rule's func (params input and data only): its slot in the evaluation's memo table. */
  readonly memoSlot?: number;
}

/** A block level of the IR: its wasm label and, for `with`, what to restore when a break leaves it. */
interface Frame {
  readonly label: string;
  readonly restore?: { readonly local: number; readonly saved: number };
}

class Linker {
  private readonly exportsByName = new Map<string, string>();
  private readonly data: StaticData;
  private readonly runtimeSegments: { offset: number; data: Uint8Array }[] = [];
  private readonly funcs = new Map<string, FuncSig>();
  private readonly hostBuiltinIds = new Map<string, number>();
  private readonly dynamicFuncs: { path: readonly string[]; arity: number; wasmName: string }[] = [];
  private readonly dispatchGlobals = new Map<number, string>();
  /** Names of the functions the generator added (for optimisation). */
  readonly generatedFunctions: string[] = [];
  private abortName = '';
  private planEvalName = '';
  private heapGlobal = '';
  /** The runtime's host-call global (RT_HOST_CALL): call-site text address during a host call, else 0. */
  hostCallGlobal = '';
  /** Number of memoised funcs (slots of the memo table). */
  private memoSlots = 0;
  private memoryName = '';

  constructor(
    readonly mod: binaryen.Module,
    readonly policy: ir.Policy,
  ) {
    for (let i = 0; i < mod.getNumExports(); i++) {
      const e = binaryen.getExportInfo(mod.getExportByIndex(i));
      this.exportsByName.set(e.name, e.value);
    }
    let end = 0;
    const m = mod as unknown as {
      getNumDataSegments(): number;
      getDataSegmentByIndex(i: number): number;
      getDataSegmentInfo(s: number): { offset: number | null; data: ArrayBuffer; passive: boolean };
    };
    for (let i = 0; i < m.getNumDataSegments(); i++) {
      const info = m.getDataSegmentInfo(m.getDataSegmentByIndex(i));
      if (info.passive || info.offset === null) throw new Error('runtime has a passive data segment');
      const data = new Uint8Array(info.data);
      this.runtimeSegments.push({ offset: info.offset, data });
      end = Math.max(end, info.offset + data.length);
      // Native built-ins signal errors with addresses below NATIVE_ERROR_LIMIT: no value may live there.
      if (info.offset < NATIVE_ERROR_LIMIT) throw new Error('runtime static data overlaps the error codes');
    }
    this.data = new StaticData(Math.ceil(Math.max(end, 8) / 16) * 16);
    for (let i = 0; i < mod.getNumFunctions(); i++) {
      const f = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
      if (f.module === 'env' && f.base === 'opa_abort') this.abortName = f.name;
      if (f.module === 'airlock' && f.base === 'plan_eval') this.planEvalName = f.name;
    }
    this.heapGlobal = this.runtimeExport('RT_HEAP_PTR');
    this.hostCallGlobal = this.runtimeExport('RT_HOST_CALL');
    this.memoryName = this.runtimeExport('memory');
    if (!this.abortName || !this.planEvalName)
      throw new Error('runtime lacks its opa_abort or plan_eval import');
  }

  private runtimeExport(name: string): string {
    const v = this.exportsByName.get(name);
    if (v === undefined) throw new Error(`runtime does not export ${name}`);
    return v;
  }

  /** Internal name of a runtime function exported as `name`. */
  rt(name: string): string {
    return this.runtimeExport(name);
  }

  link(): void {
    const { mod, policy } = this;
    // Host built-ins get ids in the order the policy lists them.
    for (const b of policy.static.builtinFuncs) {
      const native = NATIVE_BUILTINS.get(b.name);
      if (native && !native.defer) continue;
      if (b.arity > MAX_HOST_ARITY) {
        throw new WasmCompileError(`built-in ${b.name} takes ${b.arity} arguments; hosts support at most 4`);
      }
      this.hostBuiltinIds.set(b.name, this.hostBuiltinIds.size);
    }
    if (policy.static.builtinFuncs.some((b) => NATIVE_BUILTINS.get(b.name)?.errors))
      this.hostBuiltinIds.set(BUILTIN_ERROR_IMPORT, this.hostBuiltinIds.size);
    for (let n = 0; n <= MAX_HOST_ARITY; n++) {
      mod.addFunctionImport(
        `opa_builtin${n}`,
        'env',
        `opa_builtin${n}`,
        binaryen.createType(new Array<number>(n + 2).fill(i32)),
        i32,
      );
    }
    mod.addFunctionImport('opa_println', 'env', 'opa_println', i32, none);

    policy.funcs.forEach((f, i) => {
      const wasmName = `f${i}`;
      // A func of input and data alone is a rule's value: the same for the same input and data.
      const memoSlot = f.params.length === 2 ? this.memoSlots++ : undefined;
      this.funcs.set(f.name, { wasmName, arity: f.params.length, memoSlot });
      if (f.path) this.dynamicFuncs.push({ path: f.path, arity: f.params.length, wasmName });
    });
    if (this.memoSlots > 0) {
      for (const g of [MEMO_TABLE, MEMO_INPUT, MEMO_DATA]) mod.addGlobal(g, i32, true, mod.i32.const(0));
    }
    for (const f of policy.funcs) new FunctionCompiler(this, f.name).compileFunc(f);
    policy.plans.forEach((p, i) => {
      new FunctionCompiler(this, `plan ${p.name}`).compilePlan(p, `p${i}`);
    });
    this.addDynamicTable();
    this.addPlanDispatch();
    this.addTables();
    this.addAbiGlobals();
    this.addStart();
    this.finishExports();
    this.writeMemory();
    this.generatedFunctions.push(
      ...policy.funcs.map((_, i) => `f${i}`),
      ...policy.plans.map((_, i) => `p${i}`),
      this.planEvalName,
      'entrypoints',
      'builtins',
      'start',
    );
  }

  /** Calls opa_abort with a static message and traps; never returns. */
  abort(message: string): binaryen.ExpressionRef {
    const { addr } = this.data.text(message);
    return this.mod.block(null, [
      this.mod.call(this.abortName, [this.mod.i32.const(addr)], none),
      this.mod.unreachable(),
    ]);
  }

  /** Address of static NUL-terminated text. */
  text(s: string): number {
    return this.data.text(s).addr;
  }

  staticString(index: number, context: string): number {
    const s = this.policy.static.strings[index];
    if (s === undefined) throw new WasmCompileError(`${context}string index ${index} out of range`);
    return this.data.string(s);
  }

  staticStringArray(indices: readonly number[], context: string): number {
    const items = indices.map((i) => {
      const s = this.policy.static.strings[i];
      if (s === undefined) throw new WasmCompileError(`${context}string index ${i} out of range`);
      return s;
    });
    return this.data.stringArray(items);
  }

  hasDynamicFuncs(): boolean {
    return this.dynamicFuncs.length > 0;
  }

  func(name: string): FuncSig | undefined {
    return this.funcs.get(name);
  }

  hostBuiltin(name: string): number | undefined {
    return this.hostBuiltinIds.get(name);
  }

  builtinArity(name: string): number | undefined {
    return this.policy.static.builtinFuncs.find((b) => b.name === name)?.arity;
  }

  /** Global holding the call-dynamic dispatch object for funcs of `arity` params (0 when none). */
  dispatchGlobal(arity: number): string {
    let g = this.dispatchGlobals.get(arity);
    if (!g) {
      g = `dispatch${arity}`;
      this.mod.addGlobal(g, i32, true, this.mod.i32.const(0));
      this.dispatchGlobals.set(arity, g);
    }
    return g;
  }

  private addDynamicTable(): void {
    const { mod } = this;
    if (this.dynamicFuncs.length === 0) return;
    mod.addTable('dyn', this.dynamicFuncs.length, this.dynamicFuncs.length);
    mod.addActiveElementSegment(
      'dyn',
      'dyn_elems',
      this.dynamicFuncs.map((f) => f.wasmName),
      mod.i32.const(0),
    );
  }

  private dispatchJson(arity: number): string {
    // Nested object: path segment → … → table index.
    const root: Record<string, unknown> = {};
    this.dynamicFuncs.forEach((f, index) => {
      if (f.arity !== arity || f.path.length === 0) return;
      let node = root;
      f.path.forEach((seg, i) => {
        if (i === f.path.length - 1) {
          node[seg] = index;
        } else {
          const next = node[seg];
          if (typeof next === 'object' && next !== null) node = next as Record<string, unknown>;
          else node = node[seg] = {};
        }
      });
    });
    return JSON.stringify(root);
  }

  private addPlanDispatch(): void {
    const { mod } = this;
    mod.removeFunction(this.planEvalName);
    const body: binaryen.ExpressionRef[] = [];
    if (this.memoSlots > 0) {
      // A fresh memo table per evaluation, valid for the evaluation's own input and data.
      body.push(
        mod.global.set(MEMO_TABLE, mod.call(this.rt('rt_memo_table'), [mod.i32.const(this.memoSlots)], i32)),
        mod.global.set(MEMO_INPUT, mod.local.get(1, i32)),
        mod.global.set(MEMO_DATA, mod.local.get(2, i32)),
      );
    }
    this.policy.plans.forEach((_, i) => {
      body.push(
        mod.if(
          mod.i32.eq(mod.local.get(0, i32), mod.i32.const(i)),
          mod.block(null, [
            mod.call(`p${i}`, [mod.local.get(1, i32), mod.local.get(2, i32), mod.local.get(3, i32)], none),
            mod.return(mod.i32.const(0)),
          ]),
        ),
      );
    });
    body.push(mod.i32.const(1));
    mod.addFunction(
      this.planEvalName,
      binaryen.createType([i32, i32, i32, i32]),
      i32,
      [],
      mod.block(null, body, i32),
    );
  }

  private addTables(): void {
    const { mod } = this;
    const entry: Record<string, number> = {};
    this.policy.plans.forEach((p, i) => {
      entry[p.name] = i;
    });
    const builtins: Record<string, number> = {};
    // Names the SDK shadows are imported under Airlock's alias (the host serves both).
    for (const [name, id] of this.hostBuiltinIds) builtins[hostImportName(name)] = id;
    for (const [fn, obj] of [
      ['entrypoints', entry],
      ['builtins', builtins],
    ] as const) {
      const t = this.data.text(JSON.stringify(obj));
      mod.addFunction(
        fn,
        none,
        i32,
        [],
        mod.call(this.rt('rt_json'), [mod.i32.const(t.addr), mod.i32.const(t.len)], i32),
      );
      mod.addFunctionExport(fn, fn);
    }
  }

  private addAbiGlobals(): void {
    const { mod } = this;
    mod.addGlobal('abi_version', i32, false, mod.i32.const(1));
    mod.addGlobal('abi_minor_version', i32, false, mod.i32.const(2));
    mod.addGlobalExport('abi_version', 'opa_wasm_abi_version');
    mod.addGlobalExport('abi_minor_version', 'opa_wasm_abi_minor_version');
  }

  private addStart(): void {
    const { mod } = this;
    const body: binaryen.ExpressionRef[] = [];
    const oldStart = mod.getStart();
    if (oldStart) body.push(mod.call(binaryen.getFunctionInfo(oldStart).name, [], none));
    // The heap starts after all static data (the dispatch texts are added below, so reserve them first).
    const dispatch = [...this.dispatchGlobals.entries()].map(([arity, g]) => ({
      g,
      t: this.data.text(this.dispatchJson(arity)),
    }));
    const heapStart = Math.ceil(this.data.end / 8) * 8;
    body.push(mod.global.set(this.heapGlobal, mod.i32.const(heapStart)));
    for (const { g, t } of dispatch) {
      body.push(
        mod.global.set(g, mod.call(this.rt('rt_json'), [mod.i32.const(t.addr), mod.i32.const(t.len)], i32)),
      );
    }
    const start = mod.addFunction('start', none, none, [], mod.block(null, body));
    mod.setStart(start);
  }

  private finishExports(): void {
    for (const name of this.exportsByName.keys()) {
      if (!ABI_EXPORTS.has(name)) this.mod.removeExport(name);
    }
  }

  private writeMemory(): void {
    const { mod } = this;
    const info = mod.getMemoryInfo(this.memoryName);
    const bytes = this.data.bytes();
    const segments = this.runtimeSegments.map((s) => ({ offset: mod.i32.const(s.offset), data: s.data }));
    if (bytes.length > 0) segments.push({ offset: mod.i32.const(this.data.base), data: bytes });
    const pages = Math.max(info.initial, Math.ceil((this.data.end + 1) / 65536));
    mod.removeExport('memory');
    mod.setMemory(pages, info.max ?? -1, 'memory', segments, false, false, this.memoryName);
    mod.addMemoryImport(this.memoryName, 'env', 'memory');
  }
}

const BUILTIN_CALLS = ['opa_builtin0', 'opa_builtin1', 'opa_builtin2', 'opa_builtin3', 'opa_builtin4'];

class FunctionCompiler {
  private readonly localMap = new Map<number, number>();
  private readonly vars: number[] = [];
  private nparams = 0;
  private frames: Frame[] = [];
  private labels = 0;
  private isPlan = false;
  private resultSet = -1;

  constructor(
    private readonly l: Linker,
    private readonly what: string,
  ) {}

  private get m(): binaryen.Module {
    return this.l.mod;
  }

  compileFunc(f: ir.Func): void {
    this.nparams = f.params.length;
    f.params.forEach((p, i) => {
      if (this.localMap.has(p)) throw new WasmCompileError(`func ${f.name}: parameter local ${p} repeated`);
      this.localMap.set(p, i);
    });
    const body = f.blocks.map((b) => this.block(b));
    body.push(this.m.return(this.get(f.return)));
    const sig = this.l.func(f.name);
    if (!sig) throw new Error('unknown func');
    const params = binaryen.createType(new Array<number>(f.params.length).fill(i32));
    if (sig.memoSlot === undefined) {
      this.m.addFunction(sig.wasmName, params, i32, this.vars, this.m.block(null, body, i32));
      return;
    }
    const bodyName = `${sig.wasmName}${MEMO_BODY_SUFFIX}`;
    this.m.addFunction(bodyName, params, i32, this.vars, this.m.block(null, body, i32));
    this.l.generatedFunctions.push(bodyName);
    this.addMemoised(sig.wasmName, bodyName, sig.memoSlot);
  }

  /**
   * A rule's func that evaluates its body once per evaluation: called with the evaluation's
   * own input and data (a `with` replacing either makes new values, so other addresses), it
   * keeps the value in its memo table slot (1 for undefined: no value lives at address 1)
   * and answers later calls from there. Rego has no recursion, so a slot is never read while
   * its body runs. OPA's Wasm compiler memoises the same funcs.
   */
  private addMemoised(name: string, bodyName: string, slot: number): void {
    const m = this.m;
    const params = binaryen.createType([i32, i32]);
    const callBody = () => m.call(bodyName, [m.local.get(0, i32), m.local.get(1, i32)], i32);
    const cell = () => m.i32.add(m.global.get(MEMO_TABLE, i32), m.i32.const(slot * 4));
    const v = 2;
    const own = m.i32.and(
      m.i32.eq(m.local.get(0, i32), m.global.get(MEMO_INPUT, i32)),
      m.i32.eq(m.local.get(1, i32), m.global.get(MEMO_DATA, i32)),
    );
    const memoised = m.block(null, [
      m.local.set(v, m.i32.load(0, 4, cell())),
      m.if(
        m.i32.ne(m.local.get(v, i32), m.i32.const(0)),
        m.return(
          m.select(m.i32.eq(m.local.get(v, i32), m.i32.const(1)), m.i32.const(0), m.local.get(v, i32)),
        ),
      ),
      m.local.set(v, callBody()),
      m.i32.store(
        0,
        4,
        cell(),
        m.select(m.i32.eqz(m.local.get(v, i32)), m.i32.const(1), m.local.get(v, i32)),
      ),
      m.return(m.local.get(v, i32)),
    ]);
    m.addFunction(name, params, i32, [i32], m.block(null, [m.if(own, memoised), m.return(callBody())], i32));
  }

  compilePlan(p: ir.Plan, wasmName: string): void {
    this.isPlan = true;
    this.nparams = 3;
    this.localMap.set(0, 0);
    this.localMap.set(1, 1);
    this.resultSet = 2;
    const body = p.blocks.map((b) => this.block(b));
    this.m.addFunction(
      wasmName,
      binaryen.createType([i32, i32, i32]),
      none,
      this.vars,
      body.length > 0 ? this.m.block(null, body) : this.m.nop(),
    );
  }

  /** A fresh wasm local (not an IR local). */
  private temp(type: number = i32): number {
    this.vars.push(type);
    return this.nparams + this.vars.length - 1;
  }

  private slot(local: number): number {
    let s = this.localMap.get(local);
    if (s === undefined) {
      if (!Number.isInteger(local) || local < 0)
        throw new WasmCompileError(`${this.what}: bad local ${local}`);
      s = this.temp();
      this.localMap.set(local, s);
    }
    return s;
  }

  private get(local: number): binaryen.ExpressionRef {
    return this.m.local.get(this.slot(local), i32);
  }

  private set(local: number, v: binaryen.ExpressionRef): binaryen.ExpressionRef {
    return this.m.local.set(this.slot(local), v);
  }

  private call(rt: string, args: binaryen.ExpressionRef[], result: number = i32): binaryen.ExpressionRef {
    return this.m.call(this.l.rt(rt), args, result);
  }

  /** A new IR block level as a wasm block. */
  private block(b: ir.Block, restore?: Frame['restore']): binaryen.ExpressionRef {
    const label = `L${this.labels++}`;
    this.frames.push(restore ? { label, restore } : { label });
    const stmts = b.stmts.map((s) => this.stmt(s));
    this.frames.pop();
    return this.m.block(label, stmts.length > 0 ? stmts : [this.m.nop()]);
  }

  /** Branch leaving `index` + 1 IR blocks, restoring `with` locals on the way out. */
  private breakOut(index: number, loc: ir.Location, cond?: binaryen.ExpressionRef): binaryen.ExpressionRef {
    const target = this.frames.length - 1 - index;
    const frame = this.frames[target];
    if (!Number.isInteger(index) || index < 0 || !frame) {
      throw new WasmCompileError(`${where(this.l.policy, loc)}break ${index} leaves the ${this.what}`);
    }
    const restores: binaryen.ExpressionRef[] = [];
    for (let i = this.frames.length - 1; i > target; i--) {
      const r = this.frames[i]?.restore;
      if (r) restores.push(this.m.local.set(r.local, this.m.local.get(r.saved, i32)));
    }
    const br = this.m.br(frame.label);
    const jump = restores.length > 0 ? this.m.block(null, [...restores, br]) : br;
    return cond === undefined ? jump : this.m.if(cond, jump);
  }

  /** Fails (leaves the current block) when cond is non-zero. */
  private failIf(cond: binaryen.ExpressionRef): binaryen.ExpressionRef {
    const top = this.frames[this.frames.length - 1];
    if (!top) throw new Error('no block');
    return this.m.br(top.label, cond);
  }

  private operand(op: ir.Operand, loc: ir.Location): binaryen.ExpressionRef {
    switch (op.kind) {
      case 'local':
        return this.get(op.local);
      case 'bool':
        return this.call('rt_bool', [this.m.i32.const(op.value ? 1 : 0)]);
      case 'string':
        return this.m.i32.const(this.l.staticString(op.index, where(this.l.policy, loc)));
    }
  }

  /** Checks that local operands are defined (constants always are). */
  private requireDefined(ops: readonly ir.Operand[]): binaryen.ExpressionRef[] {
    const out: binaryen.ExpressionRef[] = [];
    for (const op of ops) if (op.kind === 'local') out.push(this.failIf(this.m.i32.eqz(this.get(op.local))));
    return out;
  }

  private seq(parts: binaryen.ExpressionRef[]): binaryen.ExpressionRef {
    return parts.length === 1 ? (parts[0] as binaryen.ExpressionRef) : this.m.block(null, parts);
  }

  private conflict(loc: ir.Location, message: string): binaryen.ExpressionRef {
    return this.l.abort(`${where(this.l.policy, loc)}eval_conflict_error: ${message}`);
  }

  private stmt(s: ir.Stmt): binaryen.ExpressionRef {
    const m = this.m;
    const at = where(this.l.policy, s.loc);
    switch (s.type) {
      case 'nop':
        return m.nop();
      case 'assign-int':
      case 'make-number-int': {
        if (!Number.isSafeInteger(s.value))
          throw new WasmCompileError(`${at}integer ${s.value} is not exact`);
        // binaryen.js 132 takes one bigint (its typings still show the old low/high pair).
        const i64 = m.i64.const as unknown as (v: bigint) => binaryen.ExpressionRef;
        return this.set(s.target, this.call('rt_int', [i64(BigInt(s.value))]));
      }
      case 'make-number-ref':
        return this.set(
          s.target,
          this.call('rt_number_ref', [m.i32.const(this.l.staticString(s.index, at))]),
        );
      case 'make-null':
        return this.set(s.target, this.call('rt_null', []));
      case 'make-array':
        return this.set(s.target, this.call('rt_array', [m.i32.const(Math.max(0, s.capacity | 0))]));
      case 'make-object':
        return this.set(s.target, this.call('rt_object', []));
      case 'make-set':
        return this.set(s.target, this.call('rt_set', []));
      case 'reset-local':
        return this.set(s.target, m.i32.const(0));
      case 'assign-var':
        return this.seq([
          ...this.requireDefined([s.source]),
          this.set(s.target, this.operand(s.source, s.loc)),
        ]);
      case 'assign-var-once': {
        const t = this.slot(s.target);
        return this.seq([
          ...this.requireDefined([s.source]),
          m.if(
            m.i32.and(
              m.i32.ne(m.local.get(t, i32), m.i32.const(0)),
              m.i32.eqz(this.call('rt_equal', [m.local.get(t, i32), this.operand(s.source, s.loc)])),
            ),
            this.conflict(s.loc, s.message ?? 'complete rules must not produce multiple outputs'),
          ),
          m.local.set(t, this.operand(s.source, s.loc)),
        ]);
      }
      case 'dot':
      case 'len': {
        const tmp = this.temp();
        const value =
          s.type === 'dot'
            ? this.call('rt_dot', [this.operand(s.source, s.loc), this.operand(s.key, s.loc)])
            : this.call('rt_len', [this.operand(s.source, s.loc)]);
        return this.seq([
          m.local.set(tmp, value),
          this.failIf(m.i32.eqz(m.local.get(tmp, i32))),
          this.set(s.target, m.local.get(tmp, i32)),
        ]);
      }
      case 'equal':
        return this.failIf(
          m.i32.eqz(this.call('rt_equal', [this.operand(s.a, s.loc), this.operand(s.b, s.loc)])),
        );
      case 'not-equal':
        return this.seq([
          ...this.requireDefined([s.a, s.b]),
          this.failIf(this.call('rt_equal', [this.operand(s.a, s.loc), this.operand(s.b, s.loc)])),
        ]);
      case 'is-array':
      case 'is-object':
      case 'is-set': {
        const t = s.type === 'is-array' ? T_ARRAY : s.type === 'is-object' ? T_OBJECT : T_SET;
        return this.failIf(m.i32.ne(this.call('rt_type', [this.operand(s.source, s.loc)]), m.i32.const(t)));
      }
      case 'is-defined':
        return this.failIf(m.i32.eqz(this.get(s.source)));
      case 'is-undefined':
        return this.failIf(m.i32.ne(this.get(s.source), m.i32.const(0)));
      case 'array-append':
        return this.seq([
          ...this.requireDefined([s.value, { kind: 'local', local: s.array }]),
          this.call('rt_array_append', [this.get(s.array), this.operand(s.value, s.loc)], none),
        ]);
      case 'set-add':
        return this.seq([
          ...this.requireDefined([s.value, { kind: 'local', local: s.set }]),
          this.call('rt_set_add', [this.get(s.set), this.operand(s.value, s.loc)], none),
        ]);
      case 'object-insert':
        return this.seq([
          ...this.requireDefined([s.key, s.value, { kind: 'local', local: s.object }]),
          this.call(
            'rt_object_insert',
            [this.get(s.object), this.operand(s.key, s.loc), this.operand(s.value, s.loc)],
            none,
          ),
        ]);
      case 'object-insert-once':
        return this.seq([
          ...this.requireDefined([s.key, s.value, { kind: 'local', local: s.object }]),
          m.if(
            this.call('rt_object_insert_once', [
              this.get(s.object),
              this.operand(s.key, s.loc),
              this.operand(s.value, s.loc),
            ]),
            this.conflict(s.loc, s.message ?? 'object keys must be unique'),
          ),
        ]);
      case 'object-merge': {
        const tmp = this.temp();
        return this.seq([
          this.failIf(m.i32.and(m.i32.eqz(this.get(s.a)), m.i32.eqz(this.get(s.b)))),
          m.local.set(tmp, this.call('rt_object_merge', [this.get(s.a), this.get(s.b)])),
          m.if(
            m.i32.eqz(m.local.get(tmp, i32)),
            this.conflict(s.loc, s.message ?? 'cannot merge a non-object value'),
          ),
          this.set(s.target, m.local.get(tmp, i32)),
        ]);
      }
      case 'result-set-add':
        if (!this.isPlan) throw new WasmCompileError(`${at}result-set-add outside a plan (${this.what})`);
        return this.seq([
          this.failIf(m.i32.eqz(this.get(s.value))),
          this.call('rt_set_add', [m.local.get(this.resultSet, i32), this.get(s.value)], none),
        ]);
      case 'return-local':
        if (this.isPlan) throw new WasmCompileError(`${at}return-local inside a plan (${this.what})`);
        return m.return(this.get(s.source));
      case 'break':
        return this.breakOut(s.index, s.loc);
      case 'block':
        return this.seq(s.blocks.length > 0 ? s.blocks.map((b) => this.block(b)) : [m.nop()]);
      case 'not': {
        // The enclosing block is the one NotStmt fails out of; the inner block completing means failure.
        const outer = this.frames[this.frames.length - 1];
        if (!outer) throw new Error('no block');
        const label = `L${this.labels++}`;
        this.frames.push({ label });
        const inner = s.block.stmts.map((x) => this.stmt(x));
        this.frames.pop();
        return m.block(label, [...inner, m.br(outer.label)]);
      }
      case 'scan': {
        const src = this.temp();
        const cursor = this.temp();
        const exit = `L${this.labels++}`;
        const loop = `L${this.labels++}`;
        const body = this.block(s.block);
        return m.block(exit, [
          // Objects and sets in sorted order (OPA's iteration order).
          m.local.set(src, this.call('rt_iter_source', [this.get(s.source)])),
          m.local.set(cursor, m.i32.const(0)),
          m.loop(
            loop,
            m.block(null, [
              m.local.set(
                cursor,
                this.call('rt_iter_next', [m.local.get(src, i32), m.local.get(cursor, i32)]),
              ),
              m.br(exit, m.i32.eqz(m.local.get(cursor, i32))),
              this.set(s.key, this.call('rt_iter_key', [m.local.get(src, i32), m.local.get(cursor, i32)])),
              this.set(
                s.value,
                this.call('rt_iter_value', [m.local.get(src, i32), m.local.get(cursor, i32)]),
              ),
              body,
              m.br(loop),
            ]),
          ),
        ]);
      }
      case 'with': {
        const target = this.slot(s.local);
        const saved = this.temp();
        const value = this.operand(s.value, s.loc);
        const newValue =
          s.path.length === 0
            ? value
            : this.call('rt_upsert', [
                m.local.get(target, i32),
                m.i32.const(this.l.staticStringArray(s.path, at)),
                value,
              ]);
        const body = this.block(s.block, { local: target, saved });
        return this.seq([
          ...this.requireDefined([s.value]),
          m.local.set(saved, m.local.get(target, i32)),
          m.local.set(target, newValue),
          body,
          m.local.set(target, m.local.get(saved, i32)),
        ]);
      }
      case 'call':
        return this.callStmt(s);
      case 'call-dynamic':
        return this.callDynamic(s);
    }
  }

  private callStmt(s: Extract<ir.Stmt, { type: 'call' }>): binaryen.ExpressionRef {
    const m = this.m;
    const at = where(this.l.policy, s.loc);
    const args = s.args.map((a) => this.operand(a, s.loc));
    const tmp = this.temp();
    let value: binaryen.ExpressionRef;
    const checks: binaryen.ExpressionRef[] = [];
    const fn = this.l.func(s.func);
    if (fn) {
      if (fn.arity !== args.length) {
        throw new WasmCompileError(
          `${at}func ${s.func} takes ${fn.arity} arguments, called with ${args.length}`,
        );
      }
      value = m.call(fn.wasmName, args, i32);
    } else {
      const arity = this.l.builtinArity(s.func);
      if (arity === undefined) throw new WasmCompileError(`${at}call to unknown function ${s.func}`);
      if (arity !== args.length) {
        throw new WasmCompileError(
          `${at}built-in ${s.func} takes ${arity} arguments, called with ${args.length}`,
        );
      }
      // Undefined arguments make a built-in call undefined.
      checks.push(...this.requireDefined(s.args));
      const native = NATIVE_BUILTINS.get(s.func);
      const hostCall = (name = s.func, hostArgs = s.args.map((a) => this.operand(a, s.loc))) => {
        const id = this.l.hostBuiltin(name);
        const imp = BUILTIN_CALLS[hostArgs.length];
        if (id === undefined || imp === undefined) throw new Error(`no host id for ${name}`);
        // Host-call mode for the duration of the call: tagged JSON both ways, and the call
        // site for an error the host throws (left set when it does).
        const out = this.temp();
        const site = this.l.hostCallGlobal;
        return m.block(
          null,
          [
            m.global.set(site, m.i32.const(this.l.text(callSite(this.l.policy, s.loc)))),
            m.local.set(out, m.call(imp, [m.i32.const(id), m.i32.const(0), ...hostArgs], i32)),
            m.global.set(site, m.i32.const(0)),
            m.local.get(out, i32),
          ],
          i32,
        );
      };
      if (native?.errors) {
        // Error codes are small addresses (or, if allowed, a request to defer to the host). An
        // error goes to the host's reporter with its message naming the call site: the reporter
        // throws in strict mode and otherwise answers undefined, so the call is undefined.
        const isCode = m.i32.and(
          m.i32.ne(m.local.get(tmp, i32), m.i32.const(0)),
          m.i32.lt_u(m.local.get(tmp, i32), m.i32.const(NATIVE_ERROR_LIMIT)),
        );
        const message = m.call(
          this.l.rt('rt_builtin_error'),
          [m.local.get(tmp, i32), m.i32.const(this.l.text(s.func)), m.i32.const(this.l.text(at))],
          i32,
        );
        const fail = m.block(null, [
          m.drop(hostCall(BUILTIN_ERROR_IMPORT, [message])),
          m.local.set(tmp, m.i32.const(0)),
        ]);
        const onCode = native.defer
          ? m.if(
              m.i32.eq(m.local.get(tmp, i32), m.i32.const(NATIVE_DEFER)),
              m.local.set(tmp, hostCall()),
              fail,
            )
          : fail;
        checks.push(m.local.set(tmp, this.call(native.runtime, args)), m.if(isCode, onCode));
        value = m.local.get(tmp, i32);
      } else if (native) {
        value = this.call(native.runtime, args);
      } else {
        value = hostCall();
      }
    }
    return this.seq([
      ...checks,
      m.local.set(tmp, value),
      this.failIf(m.i32.eqz(m.local.get(tmp, i32))),
      this.set(s.result, m.local.get(tmp, i32)),
    ]);
  }

  private callDynamic(s: Extract<ir.Stmt, { type: 'call-dynamic' }>): binaryen.ExpressionRef {
    const m = this.m;
    const arity = s.args.length;
    // No func has a path: nothing can be found.
    if (!this.l.hasDynamicFuncs()) return this.failIf(m.i32.const(1));
    const walk = this.temp();
    const parts: binaryen.ExpressionRef[] = [
      m.local.set(walk, m.global.get(this.l.dispatchGlobal(arity), i32)),
    ];
    for (const seg of s.func) {
      parts.push(m.local.set(walk, this.call('rt_dot', [m.local.get(walk, i32), this.operand(seg, s.loc)])));
      parts.push(this.failIf(m.i32.eqz(m.local.get(walk, i32))));
    }
    const index = this.temp();
    const tmp = this.temp();
    parts.push(
      m.local.set(index, this.call('rt_to_index', [m.local.get(walk, i32)])),
      this.failIf(m.i32.lt_s(m.local.get(index, i32), m.i32.const(0))),
      m.local.set(
        tmp,
        m.call_indirect(
          'dyn',
          m.local.get(index, i32),
          s.args.map((a) => this.get(a)),
          binaryen.createType(new Array<number>(arity).fill(i32)),
          i32,
        ),
      ),
      this.failIf(m.i32.eqz(m.local.get(tmp, i32))),
      this.set(s.result, m.local.get(tmp, i32)),
    );
    return m.block(null, parts);
  }
}
