// Objects, arrays, walk and graphs; json.filter / json.remove / json.patch.
import { type Args, builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { equal, RegoObject, RegoSet, typeName, type Value } from './value.js';

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

/** Paths as segment lists: "a/b/c" strings (JSON pointer escapes ~0 ~1) or arrays of segments. */
function pathsOperand(a: Args, pos: number): Value[][] {
  const v = a.at(pos);
  const items = a.collection(pos, 'one of {array, set}');
  return items.map((p) => {
    if (typeof p === 'string')
      return p
        .replace(/^\//, '')
        .split('/')
        .filter((s, _i, all) => !(s === '' && all.length === 1))
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (Array.isArray(p)) return p;
    throw typeError(
      a.name,
      `operand ${pos} must be one of {set, array} containing string paths or array of path segments but got ${typeName(v)} containing ${typeName(p)}`,
    );
  });
}

interface PathTree {
  leaf: boolean;
  kids: Map<string, { key: Value; tree: PathTree }>;
}

function pathTree(paths: Value[][]): PathTree {
  const root: PathTree = { leaf: false, kids: new Map() };
  for (const p of paths) {
    let t = root;
    for (const seg of p) {
      const k = typeof seg === 'string' ? seg : JSON.stringify(seg);
      let next = t.kids.get(k);
      if (!next) {
        next = { key: seg, tree: { leaf: false, kids: new Map() } };
        t.kids.set(k, next);
      }
      t = next.tree;
    }
    t.leaf = true;
  }
  return root;
}

function segMatches(seg: Value, key: Value): boolean {
  if (equal(seg, key)) return true;
  if (typeof key === 'number' && typeof seg === 'string') return seg === String(key);
  return false;
}

function filterBy(v: Value, t: PathTree): Value | undefined {
  if (t.leaf) return v;
  if (v instanceof RegoObject) {
    const out = new RegoObject();
    for (const [k, x] of v) {
      for (const { key, tree } of t.kids.values()) {
        if (!segMatches(key, k)) continue;
        const kept = filterBy(x, tree);
        if (kept !== undefined) out.set(k, kept);
      }
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      for (const { key, tree } of t.kids.values()) {
        if (!segMatches(key, i)) continue;
        const kept = filterBy(x, tree);
        if (kept !== undefined) out.push(kept);
      }
    });
    return out;
  }
  if (v instanceof RegoSet) {
    const out = new RegoSet();
    for (const x of v) {
      for (const { key, tree } of t.kids.values()) {
        if (!segMatches(key, x)) continue;
        const kept = filterBy(x, tree);
        if (kept !== undefined) out.add(kept);
      }
    }
    return out;
  }
  return undefined;
}

function removeBy(v: Value, t: PathTree): Value | undefined {
  if (t.leaf) return undefined;
  const sub = (k: Value): PathTree | undefined => {
    for (const { key, tree } of t.kids.values()) if (segMatches(key, k)) return tree;
    return undefined;
  };
  if (v instanceof RegoObject) {
    const out = new RegoObject();
    for (const [k, x] of v) {
      const tr = sub(k);
      const kept = tr ? removeBy(x, tr) : x;
      if (kept !== undefined) out.set(k, kept);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((x, i) => {
      const tr = sub(i);
      const kept = tr ? removeBy(x, tr) : x;
      if (kept !== undefined) out.push(kept);
    });
    return out;
  }
  if (v instanceof RegoSet) {
    const out = new RegoSet();
    for (const x of v) {
      const tr = sub(x);
      const kept = tr ? removeBy(x, tr) : x;
      if (kept !== undefined) out.add(kept);
    }
    return out;
  }
  return v;
}

// JSON Patch (RFC 6902) over Rego values; sets are addressed by member.
type Patch = { op: string; path: Value[]; from?: Value[]; value?: Value };

function pointer(name: string, v: Value | undefined, what: string): Value[] {
  if (typeof v === 'string') {
    if (v === '') return [];
    if (!v.startsWith('/')) throw builtinError(name, `${what}: invalid JSON pointer ${JSON.stringify(v)}`);
    return v
      .slice(1)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  if (Array.isArray(v)) return v;
  throw builtinError(name, `${what} must be a JSON pointer string or an array of segments`);
}

function index(seg: Value, len: number, forAdd: boolean): number | undefined {
  if (forAdd && seg === '-') return len;
  const n =
    typeof seg === 'number' ? seg : typeof seg === 'string' && /^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > (forAdd ? len : len - 1)) return undefined;
  return n;
}

function getAt(v: Value, path: Value[]): Value | undefined {
  let cur: Value | undefined = v;
  for (const seg of path) {
    if (cur === undefined) return undefined;
    if (Array.isArray(cur)) {
      const i = index(seg, cur.length, false);
      cur = i === undefined ? undefined : cur[i];
    } else cur = child(cur, seg);
  }
  return cur;
}

/** Returns the document with `fn` applied to the parent of the path's last segment. */
function updateAt(
  doc: Value,
  path: Value[],
  fn: (parent: Value, last: Value) => Value | undefined,
): Value | undefined {
  if (path.length === 0) return undefined;
  const [head, ...rest] = path as [Value, ...Value[]];
  if (rest.length === 0) return fn(doc, head);
  if (doc instanceof RegoObject) {
    const c = doc.get(head);
    if (c === undefined) return undefined;
    const r = updateAt(c, rest, fn);
    return r === undefined ? undefined : new RegoObject(doc).set(head, r);
  }
  if (Array.isArray(doc)) {
    const i = index(head, doc.length, false);
    if (i === undefined) return undefined;
    const r = updateAt(doc[i] as Value, rest, fn);
    if (r === undefined) return undefined;
    const out = [...doc];
    out[i] = r;
    return out;
  }
  if (doc instanceof RegoSet) {
    if (!doc.has(head)) return undefined;
    const r = updateAt(head, rest, fn);
    if (r === undefined) return undefined;
    const out = new RegoSet(doc);
    out.delete(head);
    return out.add(r);
  }
  return undefined;
}

function addAt(doc: Value, path: Value[], value: Value): Value | undefined {
  if (path.length === 0) return value;
  return updateAt(doc, path, (parent, last) => {
    if (parent instanceof RegoObject) return new RegoObject(parent).set(last, value);
    if (Array.isArray(parent)) {
      const i = index(last, parent.length, true);
      if (i === undefined) return undefined;
      return [...parent.slice(0, i), value, ...parent.slice(i)];
    }
    if (parent instanceof RegoSet) return new RegoSet(parent).add(value);
    return undefined;
  });
}

function removeAt(doc: Value, path: Value[]): Value | undefined {
  return updateAt(doc, path, (parent, last) => {
    if (parent instanceof RegoObject) {
      if (!parent.has(last)) return undefined;
      const out = new RegoObject(parent);
      out.delete(last);
      return out;
    }
    if (Array.isArray(parent)) {
      const i = index(last, parent.length, false);
      if (i === undefined) return undefined;
      return [...parent.slice(0, i), ...parent.slice(i + 1)];
    }
    if (parent instanceof RegoSet) {
      if (!parent.has(last)) return undefined;
      const out = new RegoSet(parent);
      out.delete(last);
      return out;
    }
    return undefined;
  });
}

function applyPatch(name: string, doc: Value, p: Patch): Value | undefined {
  switch (p.op) {
    case 'add':
      return addAt(doc, p.path, p.value as Value);
    case 'remove':
      return removeAt(doc, p.path);
    case 'replace': {
      if (getAt(doc, p.path) === undefined) return undefined;
      if (p.path.length === 0) return p.value as Value;
      const removed = removeAt(doc, p.path);
      return removed === undefined ? undefined : addAt(removed, p.path, p.value as Value);
    }
    case 'move': {
      const v = getAt(doc, p.from ?? []);
      if (v === undefined) return undefined;
      const removed = removeAt(doc, p.from ?? []);
      return removed === undefined ? undefined : addAt(removed, p.path, v);
    }
    case 'copy': {
      const v = getAt(doc, p.from ?? []);
      return v === undefined ? undefined : addAt(doc, p.path, v);
    }
    case 'test': {
      const v = getAt(doc, p.path);
      return v !== undefined && equal(v, p.value as Value) ? doc : undefined;
    }
    default:
      throw builtinError(name, `unknown patch op ${JSON.stringify(p.op)}`);
  }
}

function patches(a: Args): Patch[] {
  return a.array(2).map((x) => {
    if (!(x instanceof RegoObject))
      throw typeError(a.name, `operand 2 must be array of objects but got array containing ${typeName(x)}`);
    const op = x.get('op');
    if (typeof op !== 'string') throw builtinError(a.name, 'patch op must be a string');
    const p: Patch = { op, path: pointer(a.name, x.get('path'), 'path') };
    if (x.has('from')) p.from = pointer(a.name, x.get('from'), 'from');
    const value = x.get('value');
    if (value !== undefined) p.value = value;
    else if (op === 'add' || op === 'replace' || op === 'test')
      throw builtinError(a.name, `patch op ${op} needs a value`);
    if ((op === 'move' || op === 'copy') && !p.from) throw builtinError(a.name, `patch op ${op} needs from`);
    return p;
  });
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
    return filterBy(obj, pathTree(pathsOperand(a, 2))) ?? new RegoObject();
  },
  'json.remove': (a) => {
    const obj = a.object(1);
    return removeBy(obj, pathTree(pathsOperand(a, 2))) ?? new RegoObject();
  },
  'json.patch': (a) => {
    let doc: Value | undefined = a.at(1);
    for (const p of patches(a)) {
      doc = applyPatch(a.name, doc, p);
      if (doc === undefined) return undefined;
    }
    return doc;
  },
};
