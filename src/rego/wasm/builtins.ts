// Built-ins the module implements itself (runtime functions) and those that
// can never be compiled. Everything else a policy calls is imported from the
// host through opa_builtin0..4 and listed in the module's `builtins` table.

export interface NativeBuiltin {
  /** Export name of the runtime function. */
  readonly runtime: string;
  readonly arity: number;
  /** The function may return an error code (an address below 64) instead of a value. */
  readonly errors?: boolean;
  /**
   * The function may decline (returning NATIVE_DEFER) and leave the call to the host's
   * implementation, so the built-in is also listed in the module's `builtins` table.
   * No native built-in defers at present (div computes every quotient itself).
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
  ['count', { runtime: 'rt_b_count', arity: 1 }],
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
]);

/** Error codes of native built-ins are addresses below this (no value lives there). */
export const NATIVE_ERROR_LIMIT = 64;
/** The code by which a native built-in with `defer` hands the call to the host. */
export const NATIVE_DEFER = 4;

/** Networked or non-deterministic built-ins: a compile error, never a host import. */
export const FORBIDDEN_BUILTINS: ReadonlyMap<string, string> = new Map([
  ['http.send', 'makes network requests'],
  ['net.lookup_ip_addr', 'makes network requests (DNS)'],
]);

/** Most arguments a host built-in can take (opa_builtin0..4). */
export const MAX_HOST_ARITY = 4;
