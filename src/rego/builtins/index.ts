// Public surface of the built-in catalogue.
export {
  allBuiltins,
  type Builtin,
  type BuiltinCategory,
  type BuiltinFacts,
  builtin,
  builtinForInfix,
  isBuiltinNamespace,
} from './catalogue.js';
export {
  acceptsKind,
  parseSignature,
  parseType,
  type RegoType,
  type Signature,
  signatureToString,
  typeToString,
  type ValueKind,
} from './types.js';
