// Built-ins the module implements itself (runtime functions) and those that
// can never be compiled. Everything else a policy calls is imported from the
// host through opa_builtin0..4 and listed in the module's `builtins` table.

export interface NativeBuiltin {
  /** Export name of the runtime function. */
  readonly runtime: string;
  readonly arity: number;
  /** The function may return an error code (an address below NATIVE_ERROR_LIMIT) instead of a value. */
  readonly errors?: boolean;
  /**
   * The function may decline (returning NATIVE_DEFER) and leave the call to the host's
   * implementation, so the built-in is also listed in the module's `builtins` table.
   * (sprintf defers formats it cannot reproduce exactly.)
   */
  readonly defer?: boolean;
}

export const NATIVE_BUILTINS: ReadonlyMap<string, NativeBuiltin> = new Map([
  ['equal', { runtime: 'rt_b_equal', arity: 2 }],
  ['neq', { runtime: 'rt_b_neq', arity: 2 }],
  ['lt', { runtime: 'rt_b_lt', arity: 2 }],
  ['lte', { runtime: 'rt_b_lte', arity: 2 }],
  ['gt', { runtime: 'rt_b_gt', arity: 2 }],
  ['gte', { runtime: 'rt_b_gte', arity: 2 }],
  ['count', { runtime: 'rt_b_count', arity: 1, errors: true }],
  ['internal.member_2', { runtime: 'rt_b_member2', arity: 2 }],
  ['internal.member_3', { runtime: 'rt_b_member3', arity: 3 }],
  // Exact arithmetic (big integers and decimals, no rounding through doubles).
  ['plus', { runtime: 'rt_b_plus', arity: 2, errors: true }],
  ['minus', { runtime: 'rt_b_minus', arity: 2, errors: true }],
  ['mul', { runtime: 'rt_b_mul', arity: 2, errors: true }],
  ['rem', { runtime: 'rt_b_rem', arity: 2, errors: true }],
  // Exact when the quotient terminates within 40 digits, else 19 significant digits (2/3).
  ['div', { runtime: 'rt_b_div', arity: 2, errors: true }],
  ['sum', { runtime: 'rt_b_sum', arity: 1, errors: true }],
  ['product', { runtime: 'rt_b_product', arity: 1, errors: true }],
  // Sets and types: native because they are hot and cheap here (host calls are lossless since the
  // tagged wire, so exactness no longer requires it).
  ['or', { runtime: 'rt_b_or', arity: 2, errors: true }],
  ['and', { runtime: 'rt_b_and', arity: 2, errors: true }],
  ['union', { runtime: 'rt_b_union', arity: 1, errors: true }],
  ['intersection', { runtime: 'rt_b_intersection', arity: 1, errors: true }],
  // Not a Rego built-in: the planner's read of a base document under a key known only at run
  // time (OPA's storage path text, see ops.as storageGet).
  ['internal.storage_get', { runtime: 'rt_b_storage_get', arity: 2 }],
  ['type_name', { runtime: 'rt_b_type_name', arity: 1 }],
  ['is_null', { runtime: 'rt_b_is_null', arity: 1 }],
  ['is_boolean', { runtime: 'rt_b_is_boolean', arity: 1 }],
  ['is_number', { runtime: 'rt_b_is_number', arity: 1 }],
  ['is_string', { runtime: 'rt_b_is_string', arity: 1 }],
  ['is_array', { runtime: 'rt_b_is_array', arity: 1 }],
  ['is_object', { runtime: 'rt_b_is_object', arity: 1 }],
  ['is_set', { runtime: 'rt_b_is_set', arity: 1 }],
  ['object.remove', { runtime: 'rt_b_object_remove', arity: 2, errors: true }],
  ['object.filter', { runtime: 'rt_b_object_filter', arity: 2, errors: true }],
  // Objects only; any other operand goes to the host, whose errors stay the reference.
  ['object.union', { runtime: 'rt_b_object_union', arity: 2, errors: true, defer: true }],
  ['object.union_n', { runtime: 'rt_b_object_union_n', arity: 1, errors: true, defer: true }],
  // Pre-order, object keys and set members sorted, as the host's.
  ['walk', { runtime: 'rt_b_walk', arity: 1 }],
  // Strings, on UTF-8 bytes (exact for valid UTF-8). A non-string operand, non-ASCII text to
  // case-map or an empty indexof needle goes to the host, whose errors and answers stay the reference.
  ['startswith', { runtime: 'rt_b_startswith', arity: 2, errors: true, defer: true }],
  ['endswith', { runtime: 'rt_b_endswith', arity: 2, errors: true, defer: true }],
  ['contains', { runtime: 'rt_b_contains', arity: 2, errors: true, defer: true }],
  ['trim_prefix', { runtime: 'rt_b_trim_prefix', arity: 2, errors: true, defer: true }],
  ['trim_suffix', { runtime: 'rt_b_trim_suffix', arity: 2, errors: true, defer: true }],
  ['indexof', { runtime: 'rt_b_indexof', arity: 2, errors: true, defer: true }],
  ['concat', { runtime: 'rt_b_concat', arity: 2, errors: true, defer: true }],
  ['lower', { runtime: 'rt_b_lower', arity: 1, errors: true, defer: true }],
  ['upper', { runtime: 'rt_b_upper', arity: 1, errors: true, defer: true }],
  // %v %s %d %% with exact numbers and OPA's composite syntax; anything else goes to the host.
  ['sprintf', { runtime: 'rt_b_sprintf', arity: 2, errors: true, defer: true }],
]);

/**
 * Host import through which the module reports the error of a native built-in (its message,
 * a string naming the call site). The host raises it in strict mode and otherwise answers
 * undefined, which makes the call undefined: OPA's rule for built-in errors. Listed in the
 * module's `builtins` table when the policy calls a native built-in that can fail.
 */
export const BUILTIN_ERROR_IMPORT = 'airlock.builtin_error';

/** Error codes of native built-ins are addresses below this (no value lives there: static data starts above 1024). */
export const NATIVE_ERROR_LIMIT = 128;
/** The code by which a native built-in with `defer` hands the call to the host. */
export const NATIVE_DEFER = 4;

/** Networked or non-deterministic built-ins: a compile error, never a host import. */
export const FORBIDDEN_BUILTINS: ReadonlyMap<string, string> = new Map([
  ['http.send', 'makes network requests'],
  ['net.lookup_ip_addr', 'makes network requests (DNS)'],
]);

/** Most arguments a host built-in can take (opa_builtin0..4). */
export const MAX_HOST_ARITY = 4;

/**
 * Built-in names the stock SDK implements itself: for these it calls its own
 * version (sprintf via sprintf-js, regex.split via JS RegExp, json.is_valid,
 * yaml.*), never the host's custom built-in of the same name.
 */
export const SHADOWED_BY_SDK: readonly string[] = [
  'sprintf',
  'regex.split',
  'json.is_valid',
  'yaml.is_valid',
  'yaml.marshal',
  'yaml.unmarshal',
];

export const HOST_ALIAS_PREFIX = 'airlock.host.';

/**
 * Import name of a host built-in in a module's `builtins` table: the built-in's
 * own name, except for names the SDK shadows, which the module imports as
 * `airlock.host.NAME` (served by hostBuiltins() under that alias too), so the
 * call reaches Airlock's implementation and its tagged wire format.
 */
export function hostImportName(name: string): string {
  return SHADOWED_BY_SDK.includes(name) ? `${HOST_ALIAS_PREFIX}${name}` : name;
}

/**
 * Extra export (beyond OPA's ABI; the SDK ignores it) returning the address of
 * the NUL-terminated `file:row` of the host built-in call in progress, or of
 * the last one that threw; 0 when none. Its presence also marks a module whose
 * host calls speak the tagged wire format.
 */
export const HOST_CALL_SITE_EXPORT = 'airlock_host_call_site';
