// The catalogue of Rego's built-in functions (OPA 1.x): one table, shared by the
// checker, the compiler back end and `airlock builtins`.
//
// Each row is data: name, signature (in the notation of ./types.ts), category,
// and optional facts. Add a built-in by adding a row. Later stages add their
// own fields (e.g. where a built-in runs: in the Wasm module or in the host).

import { parseSignature, type Signature } from './types.js';

export type BuiltinCategory =
  | 'assignment'
  | 'comparison'
  | 'numbers'
  | 'aggregates'
  | 'arrays'
  | 'sets'
  | 'objects'
  | 'strings'
  | 'regex'
  | 'glob'
  | 'bits'
  | 'conversions'
  | 'units'
  | 'types'
  | 'encoding'
  | 'tokensign'
  | 'tokens'
  | 'time'
  | 'crypto'
  | 'graph'
  | 'graphql'
  | 'http'
  | 'aws'
  | 'net'
  | 'uuid'
  | 'semver'
  | 'rego'
  | 'opa'
  | 'debugging'
  | 'tracing'
  | 'testing'
  | 'deprecated';

/** Optional facts about a built-in. */
export interface BuiltinFacts {
  /** The operator that stands for it (`+` for `plus`, `in` for `internal.member_2`). */
  infix?: string;
  /** Its result may differ between two calls with the same arguments (time, randomness). */
  nondeterministic?: boolean;
  /** It talks to the network; Airlock's compiler refuses it. */
  networked?: boolean;
  /** Deprecated in OPA and unavailable to Rego v1 policies. */
  deprecated?: boolean;
  /** It is a relation: it can produce several results (iterates), e.g. `walk`. */
  relation?: boolean;
}

export interface Builtin extends BuiltinFacts {
  name: string;
  category: BuiltinCategory;
  /** The signature as written in the table. */
  signatureText: string;
  signature: Signature;
  /** Number of declared input arguments (the variadic tail excluded). */
  arity: number;
  /** False for built-ins with no result (`void`): they cannot take an output argument. */
  hasResult: boolean;
}

type Row = [name: string, signature: string, category: BuiltinCategory, facts?: BuiltinFacts];

// Shorthands used by many rows.
const COLL = 'array[any] | set[any]';
const TIME = 'number | [number, string]';
const STRS = 'string | array[string] | set[string]';
const JWT_VERIFY = '(string, string) => boolean';

const ROWS: Row[] = [
  // ------------------------------------------------------------ assignment and unification
  ['eq', '(any, any) => boolean', 'assignment', { infix: '=' }],
  ['assign', '(any, any) => boolean', 'assignment', { infix: ':=' }],
  ['internal.member_2', '(any, any) => boolean', 'comparison', { infix: 'in' }],
  ['internal.member_3', '(any, any, any) => boolean', 'comparison', { infix: 'in' }],

  // ------------------------------------------------------------ comparison
  ['equal', '(any, any) => boolean', 'comparison', { infix: '==' }],
  ['neq', '(any, any) => boolean', 'comparison', { infix: '!=' }],
  ['lt', '(any, any) => boolean', 'comparison', { infix: '<' }],
  ['lte', '(any, any) => boolean', 'comparison', { infix: '<=' }],
  ['gt', '(any, any) => boolean', 'comparison', { infix: '>' }],
  ['gte', '(any, any) => boolean', 'comparison', { infix: '>=' }],

  // ------------------------------------------------------------ numbers
  ['plus', '(number, number) => number', 'numbers', { infix: '+' }],
  ['minus', '(number | set[any], number | set[any]) => number | set[any]', 'numbers', { infix: '-' }],
  ['mul', '(number, number) => number', 'numbers', { infix: '*' }],
  ['div', '(number, number) => number', 'numbers', { infix: '/' }],
  ['rem', '(number, number) => number', 'numbers', { infix: '%' }],
  ['abs', '(number) => number', 'numbers'],
  ['ceil', '(number) => number', 'numbers'],
  ['floor', '(number) => number', 'numbers'],
  ['round', '(number) => number', 'numbers'],
  ['numbers.range', '(number, number) => array[number]', 'numbers'],
  ['numbers.range_step', '(number, number, number) => array[number]', 'numbers'],
  ['rand.intn', '(string, number) => number', 'numbers', { nondeterministic: true }],

  // ------------------------------------------------------------ aggregates
  ['count', '(string | array[any] | object[any: any] | set[any]) => number', 'aggregates'],
  ['max', `(${COLL}) => any`, 'aggregates'],
  ['min', `(${COLL}) => any`, 'aggregates'],
  ['product', '(array[number] | set[number]) => number', 'aggregates'],
  ['sum', '(array[number] | set[number]) => number', 'aggregates'],
  ['sort', `(${COLL}) => array[any]`, 'aggregates'],

  // ------------------------------------------------------------ arrays
  ['array.concat', '(array[any], array[any]) => array[any]', 'arrays'],
  ['array.flatten', '(array[any]) => array[any]', 'arrays'],
  ['array.reverse', '(array[any]) => array[any]', 'arrays'],
  ['array.slice', '(array[any], number, number) => array[any]', 'arrays'],

  // ------------------------------------------------------------ sets
  ['and', '(set[any], set[any]) => set[any]', 'sets', { infix: '&' }],
  ['or', '(set[any], set[any]) => set[any]', 'sets', { infix: '|' }],
  ['intersection', '(set[set[any]]) => set[any]', 'sets'],
  ['union', '(set[set[any]]) => set[any]', 'sets'],

  // ------------------------------------------------------------ objects
  [
    'json.filter',
    '(object[any: any], array[string | array[any]] | set[string | array[any]]) => any',
    'objects',
  ],
  ['json.patch', '(any, array[object[string: any]]) => any', 'objects'],
  [
    'json.remove',
    '(object[any: any], array[string | array[any]] | set[string | array[any]]) => any',
    'objects',
  ],
  [
    'json.match_schema',
    '(string | object[any: any], string | object[any: any]) => [boolean, array[object[string: any]]]',
    'objects',
  ],
  ['json.verify_schema', '(string | object[any: any]) => [boolean, null | string]', 'objects'],
  ['object.filter', '(object[any: any], array[any] | object[any: any] | set[any]) => any', 'objects'],
  ['object.get', '(object[any: any], any, any) => any', 'objects'],
  ['object.keys', '(object[any: any]) => set[any]', 'objects'],
  ['object.remove', '(object[any: any], array[any] | object[any: any] | set[any]) => any', 'objects'],
  [
    'object.subset',
    '(object[any: any] | array[any] | set[any], object[any: any] | array[any] | set[any]) => any',
    'objects',
  ],
  ['object.union', '(object[any: any], object[any: any]) => any', 'objects'],
  ['object.union_n', '(array[object[any: any]]) => any', 'objects'],

  // ------------------------------------------------------------ strings
  ['concat', '(string, array[string] | set[string]) => string', 'strings'],
  ['contains', '(string, string) => boolean', 'strings'],
  ['endswith', '(string, string) => boolean', 'strings'],
  ['format_int', '(number, number) => string', 'strings'],
  ['indexof', '(string, string) => number', 'strings'],
  ['indexof_n', '(string, string) => array[number]', 'strings'],
  ['lower', '(string) => string', 'strings'],
  ['replace', '(string, string, string) => string', 'strings'],
  ['split', '(string, string) => array[string]', 'strings'],
  ['sprintf', '(string, array[any]) => string', 'strings'],
  ['startswith', '(string, string) => boolean', 'strings'],
  ['strings.any_prefix_match', `(${STRS}, ${STRS}) => boolean`, 'strings'],
  ['strings.any_suffix_match', `(${STRS}, ${STRS}) => boolean`, 'strings'],
  ['strings.count', '(string, string) => number', 'strings'],
  ['strings.render_template', '(string, object[string: any]) => string', 'strings'],
  ['strings.replace_n', '(object[string: string], string) => string', 'strings'],
  ['strings.reverse', '(string) => string', 'strings'],
  ['strings.split_n', '(string, string, number) => array[string]', 'strings'],
  ['substring', '(string, number, number) => string', 'strings'],
  ['trim', '(string, string) => string', 'strings'],
  ['trim_left', '(string, string) => string', 'strings'],
  ['trim_prefix', '(string, string) => string', 'strings'],
  ['trim_right', '(string, string) => string', 'strings'],
  ['trim_space', '(string) => string', 'strings'],
  ['trim_suffix', '(string, string) => string', 'strings'],
  ['upper', '(string) => string', 'strings'],
  ['internal.template_string', '(array[any]) => string', 'strings'],

  // ------------------------------------------------------------ regex and glob
  ['regex.find_all_string_submatch_n', '(string, string, number) => array[array[string]]', 'regex'],
  ['regex.find_n', '(string, string, number) => array[string]', 'regex'],
  ['regex.globs_match', '(string, string) => boolean', 'regex'],
  ['regex.is_valid', '(any) => boolean', 'regex'],
  ['regex.match', '(string, string) => boolean', 'regex'],
  ['regex.replace', '(string, string, string) => string', 'regex'],
  ['regex.split', '(string, string) => array[string]', 'regex'],
  ['regex.template_match', '(string, string, string, string) => boolean', 'regex'],
  ['glob.match', '(string, null | array[string], string) => boolean', 'glob'],
  ['glob.quote_meta', '(string) => string', 'glob'],

  // ------------------------------------------------------------ bits
  ['bits.and', '(number, number) => number', 'bits'],
  ['bits.lsh', '(number, number) => number', 'bits'],
  ['bits.negate', '(number) => number', 'bits'],
  ['bits.or', '(number, number) => number', 'bits'],
  ['bits.rsh', '(number, number) => number', 'bits'],
  ['bits.xor', '(number, number) => number', 'bits'],

  // ------------------------------------------------------------ conversions, units, types
  ['to_number', '(null | boolean | number | string) => number', 'conversions'],
  ['units.parse', '(string) => number', 'units'],
  ['units.parse_bytes', '(string) => number', 'units'],
  ['is_array', '(any) => boolean', 'types'],
  ['is_boolean', '(any) => boolean', 'types'],
  ['is_null', '(any) => boolean', 'types'],
  ['is_number', '(any) => boolean', 'types'],
  ['is_object', '(any) => boolean', 'types'],
  ['is_set', '(any) => boolean', 'types'],
  ['is_string', '(any) => boolean', 'types'],
  ['type_name', '(any) => string', 'types'],

  // ------------------------------------------------------------ encoding
  ['base64.decode', '(string) => string', 'encoding'],
  ['base64.encode', '(string) => string', 'encoding'],
  ['base64.is_valid', '(string) => boolean', 'encoding'],
  ['base64url.decode', '(string) => string', 'encoding'],
  ['base64url.encode', '(string) => string', 'encoding'],
  ['base64url.encode_no_pad', '(string) => string', 'encoding'],
  ['hex.decode', '(string) => string', 'encoding'],
  ['hex.encode', '(string) => string', 'encoding'],
  ['json.is_valid', '(string) => boolean', 'encoding'],
  ['json.marshal', '(any) => string', 'encoding'],
  ['json.marshal_with_options', '(any, object[string: any]) => string', 'encoding'],
  ['json.unmarshal', '(string) => any', 'encoding'],
  ['urlquery.decode', '(string) => string', 'encoding'],
  ['urlquery.decode_object', '(string) => object[string: array[string]]', 'encoding'],
  ['urlquery.encode', '(string) => string', 'encoding'],
  ['urlquery.encode_object', `(object[string: ${STRS}]) => string`, 'encoding'],
  ['yaml.is_valid', '(string) => boolean', 'encoding'],
  ['yaml.marshal', '(any) => string', 'encoding'],
  ['yaml.unmarshal', '(string) => any', 'encoding'],

  // ------------------------------------------------------------ tokens (JWT)
  ['io.jwt.decode', '(string) => [object[any: any], object[any: any], string]', 'tokens'],
  [
    'io.jwt.decode_verify',
    '(string, object[string: any]) => [boolean, object[any: any], object[any: any]]',
    'tokens',
    { nondeterministic: true },
  ],
  ['io.jwt.verify_eddsa', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_es256', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_es384', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_es512', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_hs256', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_hs384', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_hs512', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_ps256', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_ps384', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_ps512', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_rs256', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_rs384', JWT_VERIFY, 'tokens'],
  ['io.jwt.verify_rs512', JWT_VERIFY, 'tokens'],
  [
    'io.jwt.encode_sign',
    '(object[string: any], object[string: any], object[string: any]) => string',
    'tokensign',
    { nondeterministic: true },
  ],
  ['io.jwt.encode_sign_raw', '(string, string, string) => string', 'tokensign', { nondeterministic: true }],

  // ------------------------------------------------------------ time
  ['time.add_date', '(number, number, number, number) => number', 'time'],
  ['time.clock', `(${TIME}) => [number, number, number]`, 'time'],
  ['time.date', `(${TIME}) => [number, number, number]`, 'time'],
  ['time.diff', `(${TIME}, ${TIME}) => [number, number, number, number, number, number]`, 'time'],
  ['time.format', '(number | [number, string] | [number, string, string]) => string', 'time'],
  ['time.now_ns', '() => number', 'time', { nondeterministic: true }],
  ['time.parse_duration_ns', '(string) => number', 'time'],
  ['time.parse_ns', '(string, string) => number', 'time'],
  ['time.parse_rfc3339_ns', '(string) => number', 'time'],
  ['time.weekday', `(${TIME}) => string`, 'time'],

  // ------------------------------------------------------------ crypto
  ['crypto.hmac.equal', '(string, string) => boolean', 'crypto'],
  ['crypto.hmac.md5', '(string, string) => string', 'crypto'],
  ['crypto.hmac.sha1', '(string, string) => string', 'crypto'],
  ['crypto.hmac.sha256', '(string, string) => string', 'crypto'],
  ['crypto.hmac.sha512', '(string, string) => string', 'crypto'],
  ['crypto.md5', '(string) => string', 'crypto'],
  ['crypto.sha1', '(string) => string', 'crypto'],
  ['crypto.sha256', '(string) => string', 'crypto'],
  ['crypto.parse_private_keys', '(string) => array[object[string: any]]', 'crypto'],
  [
    'crypto.x509.parse_and_verify_certificates',
    '(string) => [boolean, array[object[string: any]]]',
    'crypto',
  ],
  [
    'crypto.x509.parse_and_verify_certificates_with_options',
    '(string, object[string: any]) => [boolean, array[object[string: any]]]',
    'crypto',
  ],
  ['crypto.x509.parse_certificate_request', '(string) => object[string: any]', 'crypto'],
  ['crypto.x509.parse_certificates', '(string) => array[object[string: any]]', 'crypto'],
  ['crypto.x509.parse_keypair', '(string, string) => object[string: any]', 'crypto'],
  ['crypto.x509.parse_rsa_private_key', '(string) => object[string: any]', 'crypto'],

  // ------------------------------------------------------------ graphs
  ['graph.reachable', `(object[any: ${COLL}], ${COLL}) => set[any]`, 'graph'],
  ['graph.reachable_paths', `(object[any: ${COLL}], ${COLL}) => set[array[any]]`, 'graph'],
  ['walk', '(any) => [array[any], any]', 'graph', { relation: true }],
  ['graphql.is_valid', '(string | object[any: any], string | object[any: any]) => boolean', 'graphql'],
  [
    'graphql.parse',
    '(string | object[any: any], string | object[any: any]) => [object[any: any], object[any: any]]',
    'graphql',
  ],
  [
    'graphql.parse_and_verify',
    '(string | object[any: any], string | object[any: any]) => [boolean, object[any: any], object[any: any]]',
    'graphql',
  ],
  ['graphql.parse_query', '(string) => object[any: any]', 'graphql'],
  ['graphql.parse_schema', '(string) => object[any: any]', 'graphql'],
  ['graphql.schema_is_valid', '(string | object[any: any]) => boolean', 'graphql'],

  // ------------------------------------------------------------ network and providers
  [
    'http.send',
    '(object[string: any]) => object[any: any]',
    'http',
    { networked: true, nondeterministic: true },
  ],
  ['net.lookup_ip_addr', '(string) => set[string]', 'net', { networked: true, nondeterministic: true }],
  ['net.cidr_contains', '(string, string) => boolean', 'net'],
  [
    'net.cidr_contains_matches',
    `(${STRS} | object[string: string | array[any]], ${STRS} | object[string: string | array[any]]) => set[array[any]]`,
    'net',
  ],
  ['net.cidr_expand', '(string) => set[string]', 'net'],
  ['net.cidr_intersects', '(string, string) => boolean', 'net'],
  ['net.cidr_is_valid', '(string) => boolean', 'net'],
  ['net.cidr_merge', '(array[string] | set[string]) => set[string]', 'net'],
  ['providers.aws.sign_req', '(object[any: any], object[any: any], number) => object[any: any]', 'aws'],

  // ------------------------------------------------------------ identifiers and versions
  ['uuid.parse', '(string) => object[string: any]', 'uuid'],
  ['uuid.rfc4122', '(string) => string', 'uuid', { nondeterministic: true }],
  ['semver.compare', '(string, string) => number', 'semver'],
  ['semver.is_valid', '(any) => boolean', 'semver'],

  // ------------------------------------------------------------ rego, opa, debugging
  ['rego.metadata.chain', '() => array[any]', 'rego'],
  ['rego.metadata.rule', '() => any', 'rego'],
  ['rego.parse_module', '(string, string) => object[string: any]', 'rego'],
  ['opa.runtime', '() => object[string: any]', 'opa', { nondeterministic: true }],
  ['print', '(any...) => void', 'debugging'],
  ['internal.print', '(array[set[any]]) => void', 'debugging'],
  ['trace', '(string) => boolean', 'tracing'],
  ['internal.test_case', '(array[any]) => void', 'testing'],

  // ------------------------------------------------------------ deprecated (refused in Rego v1)
  ['all', `(${COLL}) => boolean`, 'deprecated', { deprecated: true }],
  ['any', `(${COLL}) => boolean`, 'deprecated', { deprecated: true }],
  ['cast_array', '(any) => array[any]', 'deprecated', { deprecated: true }],
  ['cast_boolean', '(any) => boolean', 'deprecated', { deprecated: true }],
  ['cast_null', '(any) => null', 'deprecated', { deprecated: true }],
  ['cast_object', '(any) => object[any: any]', 'deprecated', { deprecated: true }],
  ['cast_set', '(any) => set[any]', 'deprecated', { deprecated: true }],
  ['cast_string', '(any) => string', 'deprecated', { deprecated: true }],
  ['net.cidr_overlap', '(string, string) => boolean', 'deprecated', { deprecated: true }],
  ['re_match', '(string, string) => boolean', 'deprecated', { deprecated: true }],
  ['set_diff', '(set[any], set[any]) => set[any]', 'deprecated', { deprecated: true }],
];

function build(rows: Row[]): Map<string, Builtin> {
  const out = new Map<string, Builtin>();
  for (const [name, text, category, facts] of rows) {
    if (out.has(name)) throw new Error(`built-in ${name} listed twice`);
    const signature = parseSignature(text);
    out.set(name, {
      name,
      category,
      signatureText: text,
      signature,
      arity: signature.args.length,
      hasResult: signature.result !== 'void',
      ...facts,
    });
  }
  return out;
}

const TABLE = build(ROWS);

/** The built-in called `name` (e.g. `count`, `io.jwt.decode`, `plus`), or undefined. */
export function builtin(name: string): Builtin | undefined {
  return TABLE.get(name);
}

/** Every built-in, in table order. */
export function allBuiltins(): Builtin[] {
  return [...TABLE.values()];
}

/** The built-in an infix operator stands for (`+` → plus); `in` gives the two-operand form. */
export function builtinForInfix(op: string): Builtin | undefined {
  for (const b of TABLE.values()) if (b.infix === op) return b;
  return undefined;
}

/** True when `prefix` names a namespace of built-ins (`io.jwt`, `crypto.x509`), used to tell refs from calls. */
export function isBuiltinNamespace(prefix: string): boolean {
  for (const name of TABLE.keys()) if (name.startsWith(`${prefix}.`)) return true;
  return false;
}
