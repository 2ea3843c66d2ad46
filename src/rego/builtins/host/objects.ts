// Objects, arrays, walk and graphs; json.filter / json.remove / json.patch.
import { type Args, typeError } from './errors.js';
import type { Family } from './family.js';
import { equal, isNonIntegerText, RegoObject, RegoSet, toJSONText, typeName, type Value } from './value.js';

/** One step into a composite value: object key, array index, set member. */
function child(v: Value, key: Value): Value | undefined {
  if (v instanceof RegoObject) return v.get(key);
  if (Array.isArray(v)) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0) return undefined;
    return v[key];
  }
  if (v instanceof RegoSet) return v.has(key) ? key : undefined;
  return undefined;
}

function keysOperand(a: Args, pos: number): Value[] {
  const v = a.at(pos);
  if (Array.isArray(v)) return v;
  if (v instanceof RegoSet) return [...v];
  if (v instanceof RegoObject) return v.keys();
  return a.wrong(pos, 'one of {array, object, set}');
}

/** object.union: values of b win; two objects under one key merge recursively. */
function mergeObjects(a: RegoObject, b: RegoObject): RegoObject {
  const out = new RegoObject(a);
  for (const [k, v] of b) {
    const old = out.get(k);
    out.set(k, old instanceof RegoObject && v instanceof RegoObject ? mergeObjects(old, v) : v);
  }
  return out;
}

function isSubset(sup: Value, sub: Value): boolean {
  if (sup instanceof RegoObject && sub instanceof RegoObject) {
    for (const [k, v] of sub) {
      const sv = sup.get(k);
      if (sv === undefined) return false;
      // Nested objects, sets and arrays are compared by the subset rule too, as OPA does.
      const nested =
        (sv instanceof RegoObject && v instanceof RegoObject) ||
        (sv instanceof RegoSet && v instanceof RegoSet) ||
        (Array.isArray(sv) && Array.isArray(v));
      if (nested ? !isSubset(sv, v) : !equal(sv, v)) return false;
    }
    return true;
  }
  if (sup instanceof RegoSet && sub instanceof RegoSet) return [...sub].every((x) => sup.has(x));
  if (Array.isArray(sup) && sub instanceof RegoSet) {
    const s = new RegoSet(sup);
    return [...sub].every((x) => s.has(x));
  }
  if (Array.isArray(sup) && Array.isArray(sub)) {
    if (sub.length === 0) return true;
    for (let i = 0; i + sub.length <= sup.length; i++) {
      let ok = true;
      for (let j = 0; j < sub.length && ok; j++) ok = equal(sup[i + j] as Value, sub[j] as Value);
      if (ok) return true;
    }
    return false;
  }
  return equal(sup, sub);
}

function walk(v: Value, path: Value[], out: Value[]): void {
  out.push([path, v]);
  if (v instanceof RegoObject) for (const [k, x] of v.sorted()) walk(x, [...path, k], out);
  else if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, [...path, i], out);
  else if (v instanceof RegoSet) for (const x of v.sorted()) walk(x, [...path, x], out);
}

function edgesOf(a: Args, graph: RegoObject, node: Value): Value[] | undefined {
  const e = graph.get(node);
  if (e === undefined) return undefined;
  if (e === null) return [];
  if (Array.isArray(e)) return e;
  if (e instanceof RegoSet) return [...e];
  throw typeError(
    a.name,
    `operand 1 must be object[any: any<array[any], set[any]>] but got object containing ${typeName(e)}`,
  );
}

function reachable(a: Args): RegoSet {
  const graph = a.object(1);
  const queue = [...a.collection(2)];
  const reached = new RegoSet();
  while (queue.length) {
    const node = queue.shift() as Value;
    if (reached.has(node)) continue;
    const edges = edgesOf(a, graph, node);
    if (edges === undefined) continue;
    reached.add(node);
    for (const n of edges) if (!reached.has(n)) queue.push(n);
  }
  return reached;
}

function reachablePaths(a: Args): RegoSet {
  const graph = a.object(1);
  const out = new RegoSet();
  const visit = (node: Value, path: Value[], onPath: RegoSet): void => {
    const edges = edgesOf(a, graph, node);
    if (edges === undefined) {
      if (path.length) out.add(path);
      return;
    }
    const here = [...path, node];
    const seen = new RegoSet([...onPath, node]);
    if (edges.length === 0) {
      out.add(here);
      return;
    }
    // A neighbour already on the path ends the path here (cycles), as OPA does.
    for (const n of edges) {
      if (seen.has(n)) out.add(here);
      else visit(n, here, seen);
    }
  };
  for (const root of a.collection(2)) visit(root, [], new RegoSet());
  return out;
}

// ------------------------------------------------------------ JSON paths for json.filter / json.remove / json.patch

/** One path as segments: a "a/b/c" string (leading slashes dropped, ~1 and ~0 unescaped; "" is the root) or an array. */
function pathSegments(p: Value): Value[] | undefined {
  if (typeof p === 'string') {
    if (p === '') return [];
    return p
      .replace(/^\/+/, '')
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  if (Array.isArray(p)) return p;
  return undefined;
}

/** Paths operand of json.filter / json.remove, as OPA reads it. */
function pathsOperand(a: Args, pos: number): Value[][] {
  const items = a.collection(pos, 'one of {set, array}');
  return items.map((p) => {
    const segs = pathSegments(p);
    if (segs) return segs;
    throw typeError(
      a.name,
      `operand ${pos} must be one of {set, array} containing string paths or array of path segments but got ${typeName(p)}`,
    );
  });
}

interface PathTree {
  leaf: boolean;
  kids: Map<string, { key: Value; tree: PathTree }>;
}

/** The paths as a tree; a path ends where a shorter one does, and empty paths select nothing (OPA). */
function pathTree(paths: Value[][]): PathTree {
  const root: PathTree = { leaf: false, kids: new Map() };
  for (const p of paths) {
    if (p.length === 0) continue;
    let t = root;
    for (const seg of p) {
      if (t.leaf) break;
      const k = toJSONText(seg, 'tagged');
      let next = t.kids.get(k);
      if (!next) {
        next = { key: seg, tree: { leaf: false, kids: new Map() } };
        t.kids.set(k, next);
      }
      t = next.tree;
    }
    t.leaf = true;
    t.kids.clear();
  }
  return root;
}

/**
 * The subtree for one member of a composite: object keys and set members by equality; array
 * elements only by their index as a string ("1"), as OPA's filter and remove address them.
 */
function subtree(t: PathTree, member: Value, arrayIndex?: number): PathTree | undefined {
  const want = arrayIndex === undefined ? member : String(arrayIndex);
  return t.kids.get(toJSONText(want, 'tagged'))?.tree;
}

function filterBy(v: Value, t: PathTree): Value {
  if (t.leaf) return v;
  if (v instanceof RegoObject) {
    const out = new RegoObject();
    for (const [k, x] of v) {
      const sub = subtree(t, k);
      if (sub) out.set(k, filterBy(x, sub));
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const sub = subtree(t, x, i);
      if (sub) out.push(filterBy(x, sub));
    });
    return out;
  }
  if (v instanceof RegoSet) {
    const out = new RegoSet();
    for (const x of v) {
      const sub = subtree(t, x);
      if (sub) out.add(filterBy(x, sub));
    }
    return out;
  }
  // A path that goes on past a scalar keeps the scalar.
  return v;
}

function removeBy(v: Value, t: PathTree): Value | undefined {
  if (t.leaf) return undefined;
  if (v instanceof RegoObject) {
    const out = new RegoObject();
    for (const [k, x] of v) {
      const sub = subtree(t, k);
      const kept = sub ? removeBy(x, sub) : x;
      if (kept !== undefined) out.set(k, kept);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const sub = subtree(t, x, i);
      const kept = sub ? removeBy(x, sub) : x;
      if (kept !== undefined) out.push(kept);
    });
    return out;
  }
  if (v instanceof RegoSet) {
    const out = new RegoSet();
    for (const x of v) {
      const sub = subtree(t, x);
      const kept = sub ? removeBy(x, sub) : x;
      if (kept !== undefined) out.add(kept);
    }
    return out;
  }
  return v;
}

// JSON Patch (RFC 6902) over Rego values, with OPA's rules: sets are addressed by member (and
// only take a member under its own key), array indexes are integers or their decimal text
// without leading zeros ("-" is the end), and a patch that fails in any way leaves the call
// undefined, strict mode or not. The root may be removed and added again.
type Patch = { op: string; path: Seg[]; from?: Seg[]; value?: Value };

/**
 * A path segment that was an integral number written with a point or exponent (1.0): a key
 * or set member like any number, but never an array index (OPA's edittree toIndex takes a
 * number only when its text parses as an integer).
 */
class NonIndex {
  constructor(readonly value: Value) {}
}

type Seg = Value | NonIndex;

/** The value of a segment, as an object key or set member. */
function key(seg: Seg): Value {
  return seg instanceof NonIndex ? seg.value : seg;
}

/** A failed patch: json.patch is then undefined (never an error). */
class PatchFailure extends Error {}

function fail(): never {
  throw new PatchFailure();
}

function index(seg: Seg, len: number): number {
  if (seg instanceof NonIndex) return fail();
  if (seg === '-') return len;
  if (typeof seg === 'number' && Number.isInteger(seg)) return seg;
  if (typeof seg === 'string' && /^[+-]?\d+$/.test(seg) && !(seg !== '0' && seg.startsWith('0')))
    return Number(seg);
  return fail();
}

function getAt(v: Value, path: Seg[]): Value {
  let cur = v;
  for (const seg of path) {
    let next: Value | undefined;
    if (Array.isArray(cur)) next = cur[index(seg, cur.length)];
    else if (cur instanceof RegoObject) next = cur.get(key(seg));
    else if (cur instanceof RegoSet) next = cur.has(key(seg)) ? key(seg) : undefined;
    if (next === undefined) fail();
    cur = next;
  }
  return cur;
}

/** The document with `fn` applied to the parent of the path's last segment (path non-empty). */
function updateAt(doc: Value, path: Seg[], fn: (parent: Value, last: Seg) => Value): Value {
  const [head, ...rest] = path as [Seg, ...Seg[]];
  if (rest.length === 0) return fn(doc, head);
  if (doc instanceof RegoObject) {
    const c = doc.get(key(head));
    if (c === undefined) fail();
    return new RegoObject(doc).set(key(head), updateAt(c, rest, fn));
  }
  if (Array.isArray(doc)) {
    const i = index(head, doc.length);
    if (i < 0 || i >= doc.length) fail();
    const out = [...doc];
    out[i] = updateAt(doc[i] as Value, rest, fn);
    return out;
  }
  if (doc instanceof RegoSet) {
    const member = key(head);
    if (!doc.has(member)) fail();
    const r = updateAt(member, rest, fn);
    const out = new RegoSet(doc);
    out.delete(member);
    return out.add(r);
  }
  return fail();
}

function addAt(doc: Value | undefined, path: Seg[], value: Value): Value {
  if (path.length === 0) return value;
  if (doc === undefined) fail();
  return updateAt(doc, path, (parent, last) => {
    if (parent instanceof RegoObject) return new RegoObject(parent).set(key(last), value);
    if (Array.isArray(parent)) {
      const i = index(last, parent.length);
      if (i < 0 || i > parent.length) fail();
      return [...parent.slice(0, i), value, ...parent.slice(i)];
    }
    // A set takes a member only under its own key.
    if (parent instanceof RegoSet) return equal(key(last), value) ? new RegoSet(parent).add(value) : fail();
    return fail();
  });
}

/** Removes the value at path; removing the root leaves no document (undefined). */
function removeAt(doc: Value | undefined, path: Seg[]): Value | undefined {
  if (doc === undefined) fail();
  if (path.length === 0) return undefined;
  return updateAt(doc, path, (parent, last) => {
    if (parent instanceof RegoObject) {
      if (!parent.has(key(last))) fail();
      const out = new RegoObject(parent);
      out.delete(key(last));
      return out;
    }
    if (Array.isArray(parent)) {
      const i = index(last, parent.length);
      if (i < 0 || i >= parent.length) fail();
      return [...parent.slice(0, i), ...parent.slice(i + 1)];
    }
    if (parent instanceof RegoSet) {
      if (!parent.has(key(last))) fail();
      const out = new RegoSet(parent);
      out.delete(key(last));
      return out;
    }
    return fail();
  });
}

function render(doc: Value | undefined, path: Seg[]): Value {
  if (doc === undefined) fail();
  return getAt(doc, path);
}

function applyPatch(doc: Value | undefined, p: Patch): Value | undefined {
  switch (p.op) {
    case 'add':
      return addAt(doc, p.path, p.value as Value);
    case 'remove':
      return removeAt(doc, p.path);
    case 'replace':
      return addAt(removeAt(doc, p.path), p.path, p.value as Value);
    case 'move': {
      const from = p.from as Seg[];
      const v = render(doc, from);
      return addAt(removeAt(doc, from), p.path, v);
    }
    case 'copy':
      return addAt(doc, p.path, render(doc, p.from as Seg[]));
    case 'test':
      return equal(render(doc, p.path), p.value as Value) ? doc : fail();
    default:
      return fail();
  }
}

const PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/**
 * The wire form of attribute `name` of a patch operation as the tagged wire carries it
 * ({"o": [[key, value], …]}), or undefined (plain wire, or absent).
 */
function rawAttribute(raw: unknown, name: string): unknown {
  if (raw === null || typeof raw !== 'object') return undefined;
  const entries = (raw as { o?: unknown }).o;
  if (!Array.isArray(entries)) return undefined;
  for (const e of entries) if (Array.isArray(e) && e[0] === name) return e[1];
  return undefined;
}

/** A path's segments, with numbers written as 1.0 marked as no array index (their wire form tells). */
function segmentsOf(path: Value, raw: unknown): Seg[] {
  const base = pathSegments(path);
  if (!base) return fail();
  const segs: Seg[] = [...base];
  if (Array.isArray(raw)) {
    for (let i = 0; i < segs.length; i++)
      if (isNonIntegerText(raw[i])) segs[i] = new NonIndex(segs[i] as Value);
  }
  return segs;
}

/** One operation of the patch (`raw`: its wire form), or a failure (missing or wrong attributes). */
function patchOf(x: Value, raw: unknown): Patch {
  if (!(x instanceof RegoObject)) fail();
  const op = x.get('op');
  if (typeof op !== 'string' || !PATCH_OPS.has(op)) fail();
  const path = x.get('path');
  if (path === undefined) fail();
  const p: Patch = { op, path: segmentsOf(path, rawAttribute(raw, 'path')) };
  if (op === 'move' || op === 'copy') {
    const from = x.get('from');
    if (from === undefined) fail();
    p.from = segmentsOf(from, rawAttribute(raw, 'from'));
  }
  if (op === 'add' || op === 'replace' || op === 'test') {
    const value = x.get('value');
    if (value === undefined) fail();
    p.value = value;
  }
  return p;
}

export const objects: Family = {
  'object.get': (a) => {
    const obj = a.object(1);
    const key = a.at(2);
    const dflt = a.at(3);
    if (Array.isArray(key)) {
      let cur: Value | undefined = obj;
      for (const seg of key) {
        cur = cur === undefined ? undefined : child(cur, seg);
        if (cur === undefined) break;
      }
      return cur ?? dflt;
    }
    return obj.get(key) ?? dflt;
  },
  'object.keys': (a) => new RegoSet(a.object(1).keys()),
  'object.remove': (a) => {
    const obj = a.object(1);
    const drop = new RegoSet(keysOperand(a, 2));
    return new RegoObject([...obj].filter(([k]) => !drop.has(k)));
  },
  'object.filter': (a) => {
    const obj = a.object(1);
    const keep = new RegoSet(keysOperand(a, 2));
    return new RegoObject([...obj].filter(([k]) => keep.has(k)));
  },
  'object.union': (a) => mergeObjects(a.object(1), a.object(2)),
  'object.union_n': (a) => {
    const list = a.array(1);
    let out = new RegoObject();
    for (const o of list) {
      if (!(o instanceof RegoObject)) throw a.elementError(1, list, o, 'object');
      out = mergeObjects(out, o);
    }
    return out;
  },
  'object.subset': (a) => {
    const sup = a.at(1);
    const sub = a.at(2);
    const kind = (v: Value) => v instanceof RegoObject || v instanceof RegoSet || Array.isArray(v);
    if (!kind(sup)) return a.wrong(1, 'one of {object, set, array}');
    if (!kind(sub)) return a.wrong(2, 'one of {object, set, array}');
    if (sup instanceof RegoObject && !(sub instanceof RegoObject)) return a.wrong(2, 'object');
    return isSubset(sup, sub);
  },
  'array.concat': (a) => [...a.array(1), ...a.array(2)],
  'array.slice': (a) => {
    const arr = a.array(1);
    let start = a.int(2);
    let stop = a.int(3);
    if (start < 0) start = 0;
    if (stop > arr.length) stop = arr.length;
    if (start >= stop) return [];
    return arr.slice(start, stop);
  },
  'array.reverse': (a) => [...a.array(1)].reverse(),
  'array.flatten': (a) => {
    // One level: nested arrays inside the elements stay.
    const out: Value[] = [];
    for (const x of a.array(1)) {
      if (Array.isArray(x)) out.push(...x);
      else out.push(x);
    }
    return out;
  },
  walk: (a) => {
    const out: Value[] = [];
    walk(a.at(1), [], out);
    return out;
  },
  'graph.reachable': reachable,
  'graph.reachable_paths': reachablePaths,
  'json.filter': (a) => {
    const obj = a.object(1);
    return filterBy(obj, pathTree(pathsOperand(a, 2)));
  },
  'json.remove': (a) => {
    const obj = a.object(1);
    return removeBy(obj, pathTree(pathsOperand(a, 2))) ?? new RegoObject();
  },
  'json.patch': (a) => {
    let doc: Value | undefined = a.at(1);
    const ops = a.array(2);
    const rawOps = Array.isArray(a.raw[1]) ? (a.raw[1] as unknown[]) : [];
    try {
      ops.forEach((x, i) => {
        doc = applyPatch(doc, patchOf(x, rawOps[i]));
      });
    } catch (e) {
      if (e instanceof PatchFailure) return undefined;
      throw e;
    }
    return doc;
  },
};
