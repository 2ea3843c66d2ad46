// Airlock's WebAssembly back end: plan IR (../plan/ir.ts) → a module that the
// stock @open-policy-agent/opa-wasm SDK loads unchanged (OPA Wasm ABI 1.2).
//
// Design notes
//
// Module. compileToWasm starts from the runtime module (runtime/*.as,
// AssemblyScript, compiled by scripts/build-runtime.mjs and embedded in
// runtime/runtime-wasm.ts), read with binaryen.js, and adds: one wasm function
// per IR func (`f<i>`) and per plan (`p<i>`), the plan dispatcher (replacing the
// runtime's `airlock.plan_eval` import), `entrypoints` and `builtins` (JSON
// objects name → id, parsed from static text), the globals
// `opa_wasm_abi_version` = 1 and `opa_wasm_abi_minor_version` = 2, the imports
// env.opa_builtin0..4 and env.opa_println, a start function, and static data.
// Memory is imported as env.memory. Every other runtime export (`rt_*`) is
// removed, then binaryen optimises. Same IR → same bytes (no timestamps,
// names or hash-order dependence: everything is emitted in IR order).
//
// Values. A value is the i32 address of a runtime struct whose first byte is
// its type (1 null, 2 boolean, 3 number, 4 string, 5 array, 6 object, 7 set);
// runtime/value.as has the layouts. Numbers keep their literal text, so big
// and decimal numbers are exact. Address 0 is "undefined".
//
// Static data. IR string constants become string values laid out in a data
// segment after the runtime's (static-data.ts); `with` paths become static
// arrays; error messages and the entrypoints/builtins tables are static
// NUL-terminated text. The start function sets the heap pointer after them and
// builds the call-dynamic dispatch tables (below the SDK's heap base, so they
// survive opa_heap_ptr_set).
//
// Calling convention. A plan compiles to `p<i>(input, data, resultSet)`; the
// dispatcher `plan_eval(entrypoint, input, data, resultSet) -> 0 | 1`
// (1 = unknown entrypoint, which the runtime reports through opa_abort). An IR
// func with n params compiles to `f<i>(i32 × n) -> i32`, returning the value
// address or 0 for undefined. IR locals map to wasm locals (zero-initialised,
// so they start undefined). Funcs with a `path` also go into the table `dyn`;
// CallDynamicStmt walks a start-time object path → table index (one per
// arity) and uses call_indirect.
//
// Undefined and break. Each IR block is a wasm `block` with a label; a failing
// statement is `br_if` to the innermost label; `break N` is `br` to the label N
// levels out (first restoring the locals of every `with` it leaves). NotStmt is
// a block whose normal completion branches out of the enclosing block. ScanStmt
// is a loop over runtime cursors around the body block.
//
// Built-ins. Those in builtins.ts NATIVE_BUILTINS run in the runtime
// (comparisons, count, membership; exact arithmetic plus, minus, mul, rem, div,
// sum, product; the set and type built-ins or, and, union, intersection,
// type_name, is_*, which must see sets and non-string keys as they are; the
// string built-ins startswith, endswith, contains, trim_prefix, trim_suffix,
// indexof, concat, lower and upper on UTF-8 bytes; and sprintf for the formats
// it reproduces exactly); every other built-in in static.builtinFuncs gets an id (in listed
// order) in the `builtins` table and is called through
// env.opa_builtin<arity>(id, 0, args…), which the SDK serves from its own or
// the caller's custom built-ins. A host result of 0 is undefined. Undefined
// arguments make the call undefined. Natives that can fail return a small
// error code instead of a value address (< 128: no value lives that low); the
// generated code then calls rt_builtin_error with the built-in's name and the
// call site, which writes the message (e.g. `p.rego:3:7: eval_builtin_error:
// div: divide by zero` or `… eval_type_error: plus: operand 1 must be number
// but got string`), and hands it to the host import `airlock.builtin_error`
// (BUILTIN_ERROR_IMPORT, listed in the `builtins` table when the policy calls a
// native that can fail). hostBuiltins() serves it: in strict mode it throws the
// message, otherwise it answers undefined and the call is undefined, as OPA
// treats every built-in error (host built-ins follow the same rule). A native marked `defer` (sprintf, the string built-ins) may instead return code 4, and the
// generated code then calls the host's implementation, so such built-ins are
// listed in the `builtins` table as well.
//
// Rules are memoised per evaluation, as by OPA's own Wasm compiler: a func of
// input and data alone (a rule's value) called with the evaluation's own input
// and data runs its body once and keeps the value (or undefined) in a table
// the plan dispatcher allocates for each evaluation (rt_memo_table). `with`
// on input or data makes new values, so calls under it run the body; mocks
// are planned as separate funcs with their own slots.
//
// Host calls are lossless (the module's contract with its host). Around each
// env.opa_builtinN call the generated code stores the address of the call's
// static `file:row` text in the runtime global RT_HOST_CALL and clears it
// after the call: one store before, one after. While it is set, opa_json_dump
// (the SDK dumping the arguments) and opa_json_parse (the SDK loading the
// result) speak the tagged encoding of ../builtins/host/value.ts: every object
// {"o": [[k, v], …]}, every set {"s": […]}, an integer beyond double
// precision {"n": "digits"}, everything else plain JSON. So sets, non-string
// keys and big integers reach host built-ins as they are, and a module
// compiled here needs hostBuiltins({ wire: 'tagged' }) (the default; 'plain'
// is for modules built by `opa build -t wasm`, see speaksTaggedWire). Outside
// host calls, opa_eval's result and opa_json_dump are plain OPA JSON. A host
// call that throws leaves RT_HOST_CALL set (the evaluation is over anyway);
// eval, opa_eval and opa_heap_ptr_set clear it, so the next evaluation starts
// in normal mode.
//
// SDK-shadowed names. The SDK serves sprintf, regex.split, json.is_valid and
// yaml.* with its own code before looking at custom built-ins, so the
// `builtins` table lists them as hostImportName(name) = `airlock.host.NAME`,
// which hostBuiltins() serves too (also for native sprintf deferring).
//
// Host error locations. The SDK gives the host no call site, so a host error
// reaches the caller as `eval_type_error: NAME: …`. The module exports, beyond
// the ABI (the SDK ignores it), `airlock_host_call_site()`: the address of the
// `file:row` text of the host call in progress or the last one that threw.
// hostErrorLocation(policy) reads it; withCallSite(err, policy) prefixes
// `file:row: ` (OPA's format for built-in errors) to an error that lacks a
// location. Callers that evaluate wrap their catch with it.
//
// Errors. Conflicts (assign-var-once, object-insert-once, object-merge) call
// env.opa_abort with a static message `file:row:col: eval_conflict_error: …`;
// runtime errors (invalid input JSON with the byte offset, out of memory,
// unknown entrypoint) also go through opa_abort. The SDK turns opa_abort into a
// thrown string; the module's state needs no cleanup because the next
// evaluation resets the heap. Plans that cannot compile throw
// WasmCompileError with `file:row:col:` where known.
//
// Memory. A bump allocator; opa_free is a no-op and the host reclaims memory by
// resetting the heap pointer between evaluations (the SDK does, and opa_eval
// takes the heap pointer as an argument). JSON input is parsed with a depth
// limit (1000) and the memory grows by pages as needed, failing with
// "out of memory" when the host's maximum is reached.

export {
  FORBIDDEN_BUILTINS,
  HOST_ALIAS_PREFIX,
  HOST_CALL_SITE_EXPORT,
  hostImportName,
  NATIVE_BUILTINS,
  SHADOWED_BY_SDK,
} from './builtins.js';
export { hostErrorLocation, type LoadedModule, speaksTaggedWire, withCallSite } from './call-site.js';
export type { CompileOptions } from './compile.js';
export { compileToWasm, WasmCompileError } from './compile.js';
