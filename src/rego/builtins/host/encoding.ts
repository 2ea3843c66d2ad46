// Encodings: JSON (marshal, unmarshal, schema), YAML, base64, hex, URL query.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseAllDocuments, parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type Args, BuiltinError, builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { goJSONSyntaxError } from './json-syntax.js';
import { fromJS, RegoObject, RegoSet, toJS, toJSONText, typeName, type Value } from './value.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Largest text the decoders accept (untrusted input). */
export const MAX_DECODE_LENGTH = 16 * 1024 * 1024;

function bounded(name: string, s: string): string {
  if (s.length > MAX_DECODE_LENGTH)
    throw builtinError(name, `input longer than ${MAX_DECODE_LENGTH} characters`);
  return s;
}

// ------------------------------------------------------------ JSON

/** Go's json.Marshal escapes <, >, & and U+2028/2029. */
function goJSONEscape(s: string): string {
  return s.replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

export function marshal(v: Value): string {
  return goJSONEscape(toJSONText(v, 'plain'));
}

function marshalIndent(v: Value, prefix: string, indent: string): string {
  const write = (x: Value, depth: number): string => {
    const pad = prefix + indent.repeat(depth + 1);
    const end = prefix + indent.repeat(depth);
    if (Array.isArray(x) || x instanceof RegoSet) {
      const items = Array.isArray(x) ? x : x.sorted();
      if (items.length === 0) return '[]';
      return `[\n${items.map((i) => pad + write(i, depth + 1)).join(',\n')}\n${end}]`;
    }
    if (x instanceof RegoObject) {
      if (x.size === 0) return '{}';
      const entries = x
        .sorted()
        .map(
          ([k, val]) =>
            `${pad}${goJSONEscape(JSON.stringify(typeof k === 'string' ? k : toJSONText(k, 'plain')))}: ${write(val, depth + 1)}`,
        );
      return `{\n${entries.join(',\n')}\n${end}}`;
    }
    return marshal(x);
  };
  return write(v, 0);
}

/** A YAML parse error as one line, "yaml: line N: what" (Go's go-yaml shape), without the source excerpt. */
function yamlMessage(e: unknown): string {
  const err = e as { message?: unknown; linePos?: { line: number }[] };
  const first = typeof err?.message === 'string' ? (err.message.split('\n')[0] ?? '') : '';
  const what = first.replace(/ at line \d+, column \d+:?$/, '').trim() || 'invalid document';
  const line = err?.linePos?.[0]?.line;
  return line === undefined ? `yaml: ${what}` : `yaml: line ${line}: ${what}`;
}

/** Parses JSON text; a syntax error reads as Go's (OPA's), never as the JavaScript engine's. */
function parseJSON(name: string, s: string): unknown {
  const text = bounded(name, s);
  try {
    return JSON.parse(text);
  } catch {
    throw builtinError(name, goJSONSyntaxError(text) ?? 'invalid JSON');
  }
}

export function unmarshal(name: string, s: string): Value {
  return fromJS(parseJSON(name, s));
}

// ------------------------------------------------------------ JSON Schema (ajv; errors shaped like OPA's gojsonschema output)
const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: true });
addFormats(ajv);
const schemaCache = new Map<string, ValidateFunction | Error>();
const PRIMITIVES = ['array', 'boolean', 'integer', 'number', 'null', 'object', 'string'];

function checkTypes(s: unknown): void {
  if (Array.isArray(s)) {
    for (const x of s) checkTypes(x);
    return;
  }
  if (s === null || typeof s !== 'object') return;
  const r = s as Record<string, unknown>;
  const t = r.type;
  for (const x of typeof t === 'string' ? [t] : Array.isArray(t) ? t : []) {
    if (typeof x === 'string' && !PRIMITIVES.includes(x))
      throw new Error(
        `has a primitive type that is NOT VALID -- given: /${x}/ Expected valid values are:[${PRIMITIVES.join(' ')}]`,
      );
  }
  for (const [k, v] of Object.entries(r))
    if (k !== 'enum' && k !== 'const' && k !== 'default' && k !== 'examples') checkTypes(v);
}

/** gojsonschema accepts `enum: []` (nothing matches); ajv rejects it as a schema: say the same with `not: {}`. */
function emptyEnums(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(emptyEnums);
  if (s === null || typeof s !== 'object') return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s as Record<string, unknown>)) {
    if (k === 'enum' && Array.isArray(v) && v.length === 0) out.not = {};
    else out[k] = k === 'const' || k === 'default' || k === 'examples' || k === 'enum' ? v : emptyEnums(v);
  }
  return out;
}

function compileSchema(name: string, schema: Value): ValidateFunction {
  const text = typeof schema === 'string' ? schema : toJSONText(schema, 'plain');
  let hit = schemaCache.get(text);
  if (!hit) {
    try {
      const parsed = typeof schema === 'string' ? parseJSON(name, schema) : toJS(schema);
      if (typeof parsed !== 'boolean' && (parsed === null || typeof parsed !== 'object'))
        throw new Error('schema must be an object or a boolean');
      checkTypes(parsed);
      hit = ajv.compile(emptyEnums(parsed) as object);
    } catch (e) {
      hit = e instanceof Error ? e : new Error(String(e));
    }
    if (schemaCache.size > 256) schemaCache.clear();
    schemaCache.set(text, hit);
  }
  if (hit instanceof BuiltinError) throw hit;
  if (hit instanceof Error) throw builtinError(name, hit.message);
  return hit;
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function schemaError(e: ErrorObject, doc: unknown): Value {
  const segs = e.instancePath.split('/').slice(1);
  let field = segs.length ? segs.map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.') : '(root)';
  let type = e.keyword;
  let desc = e.message ?? e.keyword;
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'type') {
    let cur: unknown = doc;
    for (const s of segs) cur = (cur as Record<string, unknown> | undefined)?.[s];
    type = 'invalid_type';
    desc = `Invalid type. Expected: ${String(p.type).replace(/,/g, ', ')}, given: ${jsonKind(cur)}`;
  } else if (e.keyword === 'required') {
    desc = `${String(p.missingProperty)} is required`;
  } else if (e.keyword === 'enum') {
    desc = `${field} must be one of the following: ${((p.allowedValues as unknown[]) ?? []).map((x) => JSON.stringify(x)).join(', ')}`;
  } else if (e.keyword === 'additionalProperties') {
    type = 'additional_property_not_allowed';
    desc = `Additional property ${String(p.additionalProperty)} is not allowed`;
  }
  if (field === '') field = '(root)';
  return RegoObject.fromRecord({ error: `${field}: ${desc}`, type, field, desc });
}

function documentOf(name: string, v: Value): unknown {
  if (typeof v === 'string') return parseJSON(name, v);
  return toJS(v);
}

function schemaOperand(a: Args, pos: number): Value {
  const v = a.at(pos);
  if (typeof v !== 'string' && !(v instanceof RegoObject) && typeof v !== 'boolean')
    return a.wrong(pos, 'one of {string, object}');
  return v;
}

// ------------------------------------------------------------ base64 / hex

const STD = /^[A-Za-z0-9+/]*$/;
const URL = /^[A-Za-z0-9_-]*$/;

/**
 * Go's base64 decoding: strict alphabet; padding required for the standard
 * encoding, optional for base64url (OPA falls back to the raw encoding). The
 * error names the offset of the first bad byte.
 */
export function base64Decode(name: string, s: string, url: boolean): Buffer {
  const alphabet = url ? URL : STD;
  const body = s.replace(/={1,2}$/, '');
  const pad = s.length - body.length;
  for (let i = 0; i < body.length; i++) {
    if (!alphabet.test(body[i] as string)) throw builtinError(name, `illegal base64 data at input byte ${i}`);
  }
  const rest = body.length % 4;
  // An incomplete last group is reported at its start, like Go.
  if (rest === 1) throw builtinError(name, `illegal base64 data at input byte ${body.length - rest}`);
  if (pad > 0 && rest + pad !== 4) throw builtinError(name, `illegal base64 data at input byte ${s.length}`);
  if (pad === 0 && rest !== 0 && !url)
    throw builtinError(name, `illegal base64 data at input byte ${body.length - rest}`);
  return Buffer.from(body, url ? 'base64url' : 'base64');
}

function hexDecode(name: string, s: string): Buffer {
  for (const ch of s) {
    if (!/[0-9a-fA-F]/.test(ch)) {
      const cp = ch.codePointAt(0) ?? 0;
      throw builtinError(
        name,
        `encoding/hex: invalid byte: U+${cp.toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(ch).replace(/^"|"$/g, "'")}`,
      );
    }
  }
  if (s.length % 2 !== 0) throw builtinError(name, 'encoding/hex: odd length hex string');
  return Buffer.from(s, 'hex');
}

// ------------------------------------------------------------ URL query (Go's net/url)

function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function queryUnescape(name: string, s: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const b = src[i] as number;
    if (b === 0x25) {
      const h = src.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(h)) {
        const bad = s
          .slice(s.indexOf('%', Buffer.from(src.subarray(0, i)).toString('utf8').length))
          .slice(0, 3);
        throw builtinError(name, `invalid URL escape ${JSON.stringify(bad)}`);
      }
      bytes.push(Number.parseInt(h, 16));
      i += 2;
    } else if (b === 0x2b) bytes.push(0x20);
    else bytes.push(b);
  }
  return Buffer.from(bytes).toString('utf8');
}

export const encoding: Family = {
  'json.marshal': (a) => marshal(a.at(1)),
  'json.marshal_with_options': (a) => {
    const v = a.at(1);
    const opts = a.object(2);
    let pretty: boolean | undefined;
    let indent = '\t';
    let prefix = '';
    let indentSet = false;
    for (const [k, x] of opts) {
      if (k === 'pretty') {
        if (typeof x !== 'boolean') throw typeError(a.name, 'operand 2 pretty must be boolean');
        pretty = x;
      } else if (k === 'indent') {
        if (typeof x !== 'string') throw typeError(a.name, 'operand 2 indent must be string');
        indent = x;
        indentSet = true;
      } else if (k === 'prefix') {
        if (typeof x !== 'string') throw typeError(a.name, 'operand 2 prefix must be string');
        prefix = x;
        indentSet = true;
      } else
        throw typeError(
          a.name,
          `operand 2 object contained unknown key ${typeof k === 'string' ? k : toJSONText(k, 'plain')}`,
        );
    }
    if (pretty === false || (pretty === undefined && !indentSet)) return marshal(v);
    return prefix + marshalIndent(v, prefix, indent);
  },
  'json.unmarshal': (a) => unmarshal(a.name, a.string(1)),
  'json.is_valid': (a) => {
    const s = a.at(1);
    if (typeof s !== 'string') return false;
    try {
      JSON.parse(s);
      return true;
    } catch {
      return false;
    }
  },
  'json.match_schema': (a) => {
    const doc = documentOf(a.name, a.at(1));
    const validate = compileSchema(a.name, schemaOperand(a, 2));
    if (validate(doc)) return [true, []];
    return [false, (validate.errors ?? []).map((e) => schemaError(e, doc))];
  },
  'json.verify_schema': (a) => {
    try {
      compileSchema(a.name, schemaOperand(a, 1));
      return [true, null];
    } catch (e) {
      return [
        false,
        e instanceof Error && 'detail' in e ? String((e as { detail: unknown }).detail) : String(e),
      ];
    }
  },
  'yaml.marshal': (a) => stringifyYaml(toJS(a.at(1))),
  'yaml.unmarshal': (a) => {
    try {
      return fromJS(parseYaml(bounded(a.name, a.string(1))) ?? null);
    } catch (e) {
      if (e instanceof BuiltinError) throw e;
      throw builtinError(a.name, yamlMessage(e));
    }
  },
  'yaml.is_valid': (a) => {
    const s = a.at(1);
    if (typeof s !== 'string') return false;
    // Every document of a multi-document stream must parse.
    try {
      return parseAllDocuments(s).every((d) => 'errors' in d && d.errors.length === 0);
    } catch {
      return false;
    }
  },
  'base64.encode': (a) => Buffer.from(a.string(1), 'utf8').toString('base64'),
  'base64.decode': (a) => base64Decode(a.name, a.string(1), false).toString('utf8'),
  'base64.is_valid': (a) => {
    try {
      base64Decode(a.name, a.string(1), false);
      return true;
    } catch {
      return false;
    }
  },
  'base64url.encode': (a) =>
    Buffer.from(a.string(1), 'utf8')
      .toString('base64url')
      .padEnd(Math.ceil(Buffer.byteLength(a.string(1)) / 3) * 4, '='),
  'base64url.encode_no_pad': (a) => Buffer.from(a.string(1), 'utf8').toString('base64url'),
  'base64url.decode': (a) => base64Decode(a.name, a.string(1), true).toString('utf8'),
  'hex.encode': (a) => Buffer.from(a.string(1), 'utf8').toString('hex'),
  'hex.decode': (a) => hexDecode(a.name, a.string(1)).toString('utf8'),
  'urlquery.encode': (a) => queryEscape(a.string(1)),
  'urlquery.decode': (a) => queryUnescape(a.name, a.string(1)),
  'urlquery.encode_object': (a) => {
    const obj = a.object(1);
    const parts: string[] = [];
    for (const [k, v] of obj.sorted()) {
      if (typeof k !== 'string')
        throw typeError(a.name, 'operand 1 must be object[string: any<string, array[string], set[string]>]');
      const vals =
        typeof v === 'string' ? [v] : Array.isArray(v) ? v : v instanceof RegoSet ? v.sorted() : undefined;
      if (!vals)
        throw typeError(
          a.name,
          `operand 1 must be object[string: any<string, array[string], set[string]>] but got object containing ${typeName(v)}`,
        );
      for (const x of vals) {
        if (typeof x !== 'string')
          throw typeError(
            a.name,
            `operand 1 must be object[string: any<string, array[string], set[string]>] but got ${typeName(x)} value`,
          );
        parts.push(`${queryEscape(k)}=${queryEscape(x)}`);
      }
    }
    return parts.join('&');
  },
  'urlquery.decode_object': (a) => {
    const out = new RegoObject();
    for (const part of a.string(1).split(/&/)) {
      if (part === '') continue;
      if (part.includes(';')) throw builtinError(a.name, 'invalid semicolon separator in query');
      const eq = part.indexOf('=');
      const k = queryUnescape(a.name, eq < 0 ? part : part.slice(0, eq));
      const v = eq < 0 ? '' : queryUnescape(a.name, part.slice(eq + 1));
      const list = (out.get(k) as Value[] | undefined) ?? [];
      out.set(k, [...list, v]);
    }
    return out;
  },
};
