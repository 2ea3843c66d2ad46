// Airlock Wasm runtime — entry file: OPA Wasm ABI exports and the `rt_*`
// functions the code generator calls. The generator links the module:
//   - it replaces the import `airlock.plan_eval(entrypoint, input, data,
//     resultSet) -> i32` (0 = ok, 1 = unknown entrypoint) with the generated
//     dispatcher,
//   - it sets RT_HEAP_PTR's start value after its static data,
//   - and it drops every export whose name starts with `rt_` or `RT_`.

import { Buf, RT_HEAP_PTR, alloc, allocZero, fatal, fatalBuf } from "./heap";
import {
  ERR_DIV_ZERO, ERR_MOD_ZERO, ERR_ELEM_NUMBER, ERR_ELEM_NUMBER_SET, ERR_FLOAT_MOD, ERR_TOO_LARGE, ERR_TYPE, ERR_TYPE_COLL, ERR_TYPE_SET,
  div, minus, mul, plus, product, rem, sum,
} from "./arith";
import { compare, equal } from "./compare";
import { dump, parseErrorMessage, parseText } from "./json";
import { sprintf } from "./format";
import { concat, contains, endsWith, indexOf, lower, startsWith, trimPrefix, trimSuffix, upper } from "./strings";
import { ERR_TYPE_KEYS, ERR_TYPE_OBJECT, objectFilter, objectRemove, objectUnion, objectUnionN, walk } from "./objects";
import { isType, setAnd, setIntersection, setOr, setUnion, typeName as typeNameValue } from "./sets";
import { mkNumberText, scanNumber } from "./number";
import {
  ArrV, StrV, T_ARRAY, T_OBJECT, T_STRING,
  arrayAppend, collRemove, mkArray, mkBool, mkInt, mkNull, mkObject, mkSet, mkStringView, objectGet, objectInsert, setAdd,
} from "./value";
import {
  ERR_TYPE_COUNT, bCount, bEqual, bGt, bGte, bLt, bLte, bMember2, bMember3, bNeq,
  dot, iterKey, iterNext, iterSource, iterValue, len, merge, objectInsertOnce, storageGet, upsert,
} from "./ops";

export { RT_HEAP_PTR };

/**
 * Host-call mode. The generated code stores here, before each call to a host
 * built-in (env.opa_builtinN), the address of the call's static location text
 * ("file:row", NUL-terminated) and clears it when the call returns. While it is
 * set, opa_json_dump and opa_json_parse speak the tagged encoding (json.as), so
 * sets, non-string keys and big integers cross to the host and back exactly. A
 * host built-in that throws leaves it set: airlock_host_call_site() then names
 * the failing call. Every evaluation entry (eval, opa_eval, opa_heap_ptr_set)
 * clears it.
 */
export let RT_HOST_CALL: usize = 0;

/** Location text ("file:row") of the host built-in call in progress or the last one that threw; 0 if none. */
export function airlock_host_call_site(): usize {
  return RT_HOST_CALL;
}

@external("airlock", "plan_eval")
declare function planEval(entrypoint: i32, input: usize, data: usize, resultSet: usize): i32;

// ------------------------------------------------------------------ ABI

export function opa_malloc(size: usize): usize {
  return alloc(size);
}

/** Memory is reclaimed by rewinding the heap (opa_heap_ptr_set), so free does nothing. */
export function opa_free(_addr: usize): void {}

export function opa_heap_ptr_get(): usize {
  return RT_HEAP_PTR;
}

export function opa_heap_ptr_set(addr: usize): void {
  RT_HOST_CALL = 0;
  RT_HEAP_PTR = addr;
}

export function opa_json_parse(p: usize, n: u32): usize {
  return parseText(p, n, false, RT_HOST_CALL != 0);
}

export function opa_value_parse(p: usize, n: u32): usize {
  return parseText(p, n, true);
}

export function opa_json_dump(v: usize): usize {
  if (v == 0) fatal("opa_json_dump: undefined value");
  return dump(v, false, RT_HOST_CALL != 0);
}

export function opa_value_dump(v: usize): usize {
  if (v == 0) fatal("opa_value_dump: undefined value");
  return dump(v, true);
}

const ERR_OK: i32 = 0;
const ERR_INVALID_TYPE: i32 = 2;
const ERR_INVALID_PATH: i32 = 3;

/** Checks that `path` is a non-empty array of strings. */
function validPath(path: usize): bool {
  if (path == 0 || load<u8>(path) != T_ARRAY) return false;
  const a = changetype<ArrV>(path);
  if (a.len == 0) return false;
  for (let i: u32 = 0; i < a.len; i++) {
    if (load<u8>(load<usize>(a.elems + (<usize>i << 2))) != T_STRING) return false;
  }
  return true;
}

export function opa_value_add_path(base: usize, path: usize, value: usize): i32 {
  if (base == 0 || load<u8>(base) != T_OBJECT || value == 0) return ERR_INVALID_TYPE;
  if (!validPath(path)) return ERR_INVALID_PATH;
  const a = changetype<ArrV>(path);
  // Check first so that a failure leaves the base unchanged.
  let cur = base;
  for (let i: u32 = 0; i + 1 < a.len; i++) {
    const next = objectGet(cur, load<usize>(a.elems + (<usize>i << 2)));
    if (next == 0) break;
    if (load<u8>(next) != T_OBJECT) return ERR_INVALID_PATH;
    cur = next;
  }
  cur = base;
  for (let i: u32 = 0; i + 1 < a.len; i++) {
    const key = load<usize>(a.elems + (<usize>i << 2));
    let next = objectGet(cur, key);
    if (next == 0) {
      next = mkObject();
      objectInsert(cur, key, next);
    }
    cur = next;
  }
  objectInsert(cur, load<usize>(a.elems + (<usize>(a.len - 1) << 2)), value);
  return ERR_OK;
}

export function opa_value_remove_path(base: usize, path: usize): i32 {
  if (base == 0 || load<u8>(base) != T_OBJECT) return ERR_INVALID_TYPE;
  if (!validPath(path)) return ERR_INVALID_PATH;
  const a = changetype<ArrV>(path);
  let cur = base;
  for (let i: u32 = 0; i + 1 < a.len; i++) {
    const next = objectGet(cur, load<usize>(a.elems + (<usize>i << 2)));
    if (next == 0) return ERR_OK; // nothing there to remove
    if (load<u8>(next) != T_OBJECT) return ERR_INVALID_PATH;
    cur = next;
  }
  collRemove(cur, load<usize>(a.elems + (<usize>(a.len - 1) << 2)));
  return ERR_OK;
}

// Evaluation context: { input, data, entrypoint, result }.
@unmanaged
class Ctx {
  input: usize;
  data: usize;
  entrypoint: i32;
  result: usize;
}

export function opa_eval_ctx_new(): usize {
  const c = changetype<Ctx>(alloc(offsetof<Ctx>()));
  c.input = 0;
  c.data = 0;
  c.entrypoint = 0;
  c.result = 0;
  return changetype<usize>(c);
}

export function opa_eval_ctx_set_input(ctx: usize, v: usize): void {
  changetype<Ctx>(ctx).input = v;
}

export function opa_eval_ctx_set_data(ctx: usize, v: usize): void {
  changetype<Ctx>(ctx).data = v;
}

export function opa_eval_ctx_set_entrypoint(ctx: usize, e: i32): void {
  changetype<Ctx>(ctx).entrypoint = e;
}

export function opa_eval_ctx_get_result(ctx: usize): usize {
  return changetype<Ctx>(ctx).result;
}

function runPlan(entrypoint: i32, input: usize, data: usize): usize {
  const rs = mkSet();
  if (planEval(entrypoint, input, data, rs) != 0) {
    const b = Buf.create(64);
    b.ascii("unknown entrypoint id ");
    b.int(<i64>entrypoint);
    fatalBuf(b);
  }
  return rs;
}

function evalCtx(ctx: usize): i32 {
  const c = changetype<Ctx>(ctx);
  RT_HOST_CALL = 0;
  c.result = runPlan(c.entrypoint, c.input, c.data);
  return 0;
}

export { evalCtx as eval };

/** ABI 1.2 one-shot evaluation: returns the address of the NUL-terminated result text. */
export function opa_eval(
  _reserved: i32,
  entrypoint: i32,
  data: usize,
  inputAddr: usize,
  inputLen: u32,
  heapPtr: usize,
  format: i32,
): usize {
  RT_HEAP_PTR = heapPtr;
  RT_HOST_CALL = 0;
  let input: usize = 0;
  if (inputLen > 0) {
    input = parseText(inputAddr, inputLen, false);
    if (input == 0) {
      const b = Buf.create(96);
      b.ascii("invalid input JSON: ");
      parseErrorMessage(b);
      fatalBuf(b);
    }
  }
  const rs = runPlan(entrypoint, input, data);
  return dump(rs, format == 1);
}

// ---------------------------------------------------- for generated code

export function rt_null(): usize {
  return mkNull();
}
export function rt_bool(b: i32): usize {
  return mkBool(b != 0);
}
export function rt_int(v: i64): usize {
  return mkInt(v);
}
/** MakeNumberRefStmt: the number written as the text of a (static) string value. */
export function rt_number_ref(s: usize): usize {
  const str = changetype<StrV>(s);
  if (str.len == 0 || scanNumber(str.ptr, str.ptr + <usize>str.len) != <usize>str.len) fatal("invalid number literal");
  return mkNumberText(str.ptr, str.len);
}
export function rt_array(cap: u32): usize {
  return mkArray(cap);
}
export function rt_object(): usize {
  return mkObject();
}
export function rt_set(): usize {
  return mkSet();
}
export function rt_array_append(arr: usize, v: usize): void {
  arrayAppend(arr, v);
}
export function rt_object_insert(obj: usize, k: usize, v: usize): void {
  objectInsert(obj, k, v);
}
export function rt_object_insert_once(obj: usize, k: usize, v: usize): i32 {
  return objectInsertOnce(obj, k, v);
}
export function rt_set_add(set: usize, v: usize): void {
  setAdd(set, v);
}
export function rt_object_merge(a: usize, b: usize): usize {
  return merge(a, b);
}
export function rt_dot(src: usize, key: usize): usize {
  return dot(src, key);
}
export function rt_len(v: usize): usize {
  return len(v);
}
export function rt_equal(a: usize, b: usize): i32 {
  return a != 0 && b != 0 && equal(a, b) ? 1 : 0;
}
export function rt_compare(a: usize, b: usize): i32 {
  return compare(a, b);
}
export function rt_type(v: usize): i32 {
  return v == 0 ? 0 : <i32>load<u8>(v);
}
export function rt_iter_source(src: usize): usize {
  return iterSource(src);
}
export function rt_iter_next(src: usize, cursor: u32): u32 {
  return iterNext(src, cursor);
}
export function rt_iter_key(src: usize, cursor: u32): usize {
  return iterKey(src, cursor);
}
export function rt_iter_value(src: usize, cursor: u32): usize {
  return iterValue(src, cursor);
}
export function rt_upsert(base: usize, path: usize, value: usize): usize {
  return upsert(base, path, value);
}
/** CallDynamicStmt: the table index held by a number value, or -1. */
export function rt_to_index(v: usize): i32 {
  if (v == 0 || load<u8>(v) != 3) return -1;
  const n = changetype<usize>(v);
  const x = load<i64>(n, 8);
  if (load<u8>(n, 1) == 0 || x < 0 || x > 0x7fffffff) return -1;
  return <i32>x;
}
/** The memo table of one evaluation: `slots` zeroed u32 cells (see compile.ts addMemoised). */
export function rt_memo_table(slots: u32): usize {
  return allocZero(<usize>slots << 2);
}
/** Parses static JSON text (entrypoints/builtins tables); aborts on error. */
export function rt_json(p: usize, n: u32): usize {
  const v = parseText(p, n, false);
  if (v == 0) fatal("invalid static JSON");
  return v;
}
export function rt_b_equal(a: usize, b: usize): usize {
  return bEqual(a, b);
}
export function rt_b_neq(a: usize, b: usize): usize {
  return bNeq(a, b);
}
export function rt_b_lt(a: usize, b: usize): usize {
  return bLt(a, b);
}
export function rt_b_lte(a: usize, b: usize): usize {
  return bLte(a, b);
}
export function rt_b_gt(a: usize, b: usize): usize {
  return bGt(a, b);
}
export function rt_b_gte(a: usize, b: usize): usize {
  return bGte(a, b);
}
export function rt_b_count(a: usize): usize {
  return bCount(a);
}
export function rt_b_member2(x: usize, c: usize): usize {
  return bMember2(x, c);
}
export function rt_b_member3(k: usize, v: usize, c: usize): usize {
  return bMember3(k, v, c);
}
export function rt_b_plus(a: usize, b: usize): usize {
  return plus(a, b);
}
export function rt_b_minus(a: usize, b: usize): usize {
  return minus(a, b);
}
export function rt_b_mul(a: usize, b: usize): usize {
  return mul(a, b);
}
export function rt_b_rem(a: usize, b: usize): usize {
  return rem(a, b);
}
export function rt_b_div(a: usize, b: usize): usize {
  return div(a, b);
}
export function rt_b_sprintf(f: usize, args: usize): usize {
  return sprintf(f, args);
}
export function rt_b_startswith(a: usize, b: usize): usize {
  return startsWith(a, b);
}
export function rt_b_endswith(a: usize, b: usize): usize {
  return endsWith(a, b);
}
export function rt_b_contains(a: usize, b: usize): usize {
  return contains(a, b);
}
export function rt_b_trim_prefix(a: usize, b: usize): usize {
  return trimPrefix(a, b);
}
export function rt_b_trim_suffix(a: usize, b: usize): usize {
  return trimSuffix(a, b);
}
export function rt_b_indexof(a: usize, b: usize): usize {
  return indexOf(a, b);
}
export function rt_b_concat(d: usize, coll: usize): usize {
  return concat(d, coll);
}
export function rt_b_lower(a: usize): usize {
  return lower(a);
}
export function rt_b_upper(a: usize): usize {
  return upper(a);
}
export function rt_b_or(a: usize, b: usize): usize {
  return setOr(a, b);
}
export function rt_b_and(a: usize, b: usize): usize {
  return setAnd(a, b);
}
export function rt_b_union(a: usize): usize {
  return setUnion(a);
}
export function rt_b_intersection(a: usize): usize {
  return setIntersection(a);
}
export function rt_b_storage_get(src: usize, key: usize): usize {
  return storageGet(src, key);
}
export function rt_b_type_name(a: usize): usize {
  return typeNameValue(a);
}
export function rt_b_is_null(a: usize): usize {
  return isType(a, 1);
}
export function rt_b_is_boolean(a: usize): usize {
  return isType(a, 2);
}
export function rt_b_is_number(a: usize): usize {
  return isType(a, 3);
}
export function rt_b_is_string(a: usize): usize {
  return isType(a, 4);
}
export function rt_b_is_array(a: usize): usize {
  return isType(a, 5);
}
export function rt_b_is_object(a: usize): usize {
  return isType(a, 6);
}
export function rt_b_is_set(a: usize): usize {
  return isType(a, 7);
}
export function rt_b_object_remove(a: usize, b: usize): usize {
  return objectRemove(a, b);
}
export function rt_b_object_filter(a: usize, b: usize): usize {
  return objectFilter(a, b);
}
export function rt_b_object_union(a: usize, b: usize): usize {
  return objectUnion(a, b);
}
export function rt_b_object_union_n(a: usize): usize {
  return objectUnionN(a);
}
export function rt_b_walk(a: usize): usize {
  return walk(a);
}
export function rt_b_sum(a: usize): usize {
  return sum(a);
}
export function rt_b_product(a: usize): usize {
  return product(a);
}

function typeName(tag: u32): string {
  switch (tag) {
    case 1: return "null";
    case 2: return "boolean";
    case 3: return "number";
    case 4: return "string";
    case 5: return "array";
    case 6: return "object";
    default: return "set";
  }
}

function appendCString(b: Buf, p: usize): void {
  let q = p;
  while (load<u8>(q) != 0) q++;
  b.bytes(p, <u32>(q - p));
}

/**
 * The message of an error code returned by a native built-in (arith.as), as a
 * string value naming the call site: `<where>` is "file:row:col: " and `<name>`
 * the built-in, both NUL-terminated static text. The generated code hands it to
 * the host's error reporter, which raises it in strict mode and otherwise makes
 * the call undefined (OPA's rule for built-in errors).
 */
export function rt_builtin_error(code: usize, name: usize, where: usize): usize {
  const b = Buf.create(128);
  appendCString(b, where);
  if (code >= ERR_ELEM_NUMBER_SET) {
    // OPA's element error: "operand 1 must be set of numbers but got set containing T".
    b.ascii("eval_type_error: ");
    appendCString(b, name);
    b.ascii(": operand 1 must be set of numbers but got set containing ");
    b.ascii(typeName(<u32>(code - ERR_ELEM_NUMBER_SET)));
  } else if (code >= ERR_TYPE_COUNT) {
    b.ascii("eval_type_error: ");
    appendCString(b, name);
    b.ascii(": operand 1 must be one of {array, object, set, string} but got ");
    b.ascii(typeName(<u32>(code - ERR_TYPE_COUNT)));
  } else if (code >= ERR_TYPE_OBJECT) {
    const keys = code >= ERR_TYPE_KEYS;
    const c = code - (keys ? ERR_TYPE_KEYS : ERR_TYPE_OBJECT);
    b.ascii("eval_type_error: ");
    appendCString(b, name);
    b.ascii(": operand ");
    b.int(<i64>((c >> 3) + 1));
    b.ascii(keys ? " must be one of {object, set, array} but got " : " must be object but got ");
    b.ascii(typeName(<u32>(c & 7)));
  } else if (code >= ERR_ELEM_NUMBER) {
    b.ascii("eval_type_error: ");
    appendCString(b, name);
    b.ascii(": operand 1 must be array of numbers but got array containing ");
    b.ascii(typeName(<u32>(code - ERR_ELEM_NUMBER)));
  } else if (code >= ERR_TYPE_COLL && code < ERR_TYPE) {
    b.ascii("eval_type_error: ");
    appendCString(b, name);
    b.ascii(": operand 1 must be one of {set, array} but got ");
    b.ascii(typeName(<u32>(code - ERR_TYPE_COLL)));
  } else if (code >= ERR_TYPE) {
    b.ascii("eval_type_error: ");
    appendCString(b, name);
    const set = code >= ERR_TYPE_SET;
    const c = code - (set ? ERR_TYPE_SET : ERR_TYPE);
    b.ascii(": operand ");
    b.int(<i64>((c >> 3) + 1));
    b.ascii(set ? " must be set but got " : " must be number but got ");
    b.ascii(typeName(<u32>(c & 7)));
  } else {
    b.ascii("eval_builtin_error: ");
    appendCString(b, name);
    b.ascii(": ");
    if (code == ERR_DIV_ZERO) b.ascii("divide by zero");
    else if (code == ERR_MOD_ZERO) b.ascii("modulo by zero");
    else if (code == ERR_FLOAT_MOD) b.ascii("modulo on floating-point number");
    else if (code == ERR_TOO_LARGE) b.ascii("number too large");
    else b.ascii("error");
  }
  return mkStringView(b.ptr, b.len);
}
