// Built-ins the module implements itself (runtime functions) and those that
// can never be compiled. Everything else a policy calls is imported from the
// host through opa_builtin0..4 and listed in the module's `builtins` table.

export interface NativeBuiltin {
  /** Export name of the runtime function. */
  readonly runtime: string;
  readonly arity: number;
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
]);

/** Networked or non-deterministic built-ins: a compile error, never a host import. */
export const FORBIDDEN_BUILTINS: ReadonlyMap<string, string> = new Map([
  ['http.send', 'makes network requests'],
  ['net.lookup_ip_addr', 'makes network requests (DNS)'],
]);

/** Most arguments a host built-in can take (opa_builtin0..4). */
export const MAX_HOST_ARITY = 4;
