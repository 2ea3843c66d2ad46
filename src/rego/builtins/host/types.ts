// Types: is_*, type_name, to_number.
import { builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { num, RegoObject, RegoSet, typeName } from './value.js';

/** Go's strconv.ParseFloat syntax as OPA's to_number accepts it (decimal, no Inf/NaN). */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export const types: Family = {
  is_array: (a) => Array.isArray(a.at(1)),
  is_boolean: (a) => typeof a.at(1) === 'boolean',
  is_null: (a) => a.at(1) === null,
  is_number: (a) => typeName(a.at(1)) === 'number',
  is_object: (a) => a.at(1) instanceof RegoObject,
  is_set: (a) => a.at(1) instanceof RegoSet,
  is_string: (a) => typeof a.at(1) === 'string',
  type_name: (a) => typeName(a.at(1)),
  to_number: (a) => {
    const v = a.at(1);
    if (v === null) return 0;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number' || typeof v === 'bigint') return v;
    if (typeof v === 'string') {
      // OPA: "inf", "infinity" and "nan" in any case, after any run of leading signs, are a
      // type error (not a number string); other text ParseFloat refuses is a built-in error.
      if (/^[+-]*(inf|infinity|nan)$/i.test(v))
        throw typeError('to_number', 'operand 1 must be valid number string but got string');
      if (!DECIMAL.test(v))
        throw builtinError('to_number', `strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
      const t = v.replace(/^\+/, '');
      if (/^-?\d+$/.test(t)) return num(BigInt(t));
      const n = Number(t);
      if (!Number.isFinite(n))
        throw builtinError(
          'to_number',
          `strconv.ParseFloat: parsing ${JSON.stringify(v)}: value out of range`,
        );
      return num(n);
    }
    return a.wrong(1, 'one of {null, boolean, number, string}');
  },
};
