// Airlock Wasm runtime — object.remove and object.filter, native because a
// host built-in would see non-string keys as strings (the SDK passes JSON).

import { ArrV, ObjV, ENTRY, T_ARRAY, T_OBJECT, T_SET, collFind, mkObject, mkSet, objectInsert, setAdd } from "./value";

/** "operand N must be object but got T": + 8 × (N - 1) + type tag. */
export const ERR_TYPE_OBJECT: usize = 64;
/** "operand N must be one of {object, set, array} but got T": + 8 × (N - 1) + type tag. */
export const ERR_TYPE_KEYS: usize = 80;

/** The keys named by an array (its elements), a set (its elements) or an object (its keys), as a set. */
function keySet(keys: usize): usize {
  const t = load<u8>(keys);
  if (t == T_SET) return keys;
  const out = mkSet();
  if (t == T_ARRAY) {
    const a = changetype<ArrV>(keys);
    for (let i: u32 = 0; i < a.len; i++) setAdd(out, load<usize>(a.elems + (<usize>i << 2)));
  } else {
    const o = changetype<ObjV>(keys);
    for (let i: u32 = 0; i < o.count; i++) setAdd(out, load<usize>(o.entries + <usize>i * ENTRY));
  }
  return out;
}

function select(obj: usize, keys: usize, keep: bool): usize {
  if (load<u8>(obj) != T_OBJECT) return ERR_TYPE_OBJECT + <usize>load<u8>(obj);
  const t = load<u8>(keys);
  if (t != T_ARRAY && t != T_SET && t != T_OBJECT) return ERR_TYPE_KEYS + 8 + <usize>t;
  const ks = keySet(keys);
  const out = mkObject();
  const o = changetype<ObjV>(obj);
  for (let i: u32 = 0; i < o.count; i++) {
    const e = o.entries + <usize>i * ENTRY;
    const k = load<usize>(e);
    if ((collFind(ks, k) != 0) == keep) objectInsert(out, k, load<usize>(e, 4));
  }
  return out;
}

export function objectRemove(obj: usize, keys: usize): usize {
  return select(obj, keys, false);
}

export function objectFilter(obj: usize, keys: usize): usize {
  return select(obj, keys, true);
}
