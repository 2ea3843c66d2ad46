// JSON Patch (RFC 6902) applied to a copy of a document, with JSON Pointers (RFC 6901).
import { isObject } from './data-tree.js';

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export class PatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchError';
  }
}

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Checks the shape of a patch document (an array of operations). */
export function parsePatch(doc: unknown): PatchOperation[] {
  if (!Array.isArray(doc)) throw new PatchError('a JSON Patch must be an array of operations');
  return doc.map((o, i) => {
    if (!isObject(o) || typeof o.op !== 'string' || !OPS.has(o.op))
      throw new PatchError(`operation ${i}: op must be one of ${[...OPS].join(', ')}`);
    if (typeof o.path !== 'string') throw new PatchError(`operation ${i}: path must be a string`);
    if ((o.op === 'move' || o.op === 'copy') && typeof o.from !== 'string')
      throw new PatchError(`operation ${i}: ${o.op} needs from`);
    if ((o.op === 'add' || o.op === 'replace' || o.op === 'test') && !Object.hasOwn(o, 'value'))
      throw new PatchError(`operation ${i}: ${o.op} needs value`);
    return o as unknown as PatchOperation;
  });
}

/** RFC 6901 pointer → segments. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw new PatchError(`JSON Pointer ${JSON.stringify(pointer)} must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const clone = <T>(v: T): T => structuredClone(v);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return false;
}

function parentOf(root: { doc: unknown }, segs: string[]): { parent: unknown; key: string } {
  let node: unknown = root;
  let key = 'doc';
  for (const s of segs) {
    const here = (node as Record<string, unknown>)[key];
    if (isObject(here) || Array.isArray(here)) {
      node = here;
      key = s;
    } else throw new PatchError(`path /${segs.join('/')} does not exist`);
  }
  return { parent: node, key };
}

function arrayIndex(arr: unknown[], key: string, forAdd: boolean): number {
  if (forAdd && key === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw new PatchError(`bad array index ${JSON.stringify(key)}`);
  const i = Number(key);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new PatchError(`array index ${i} out of range`);
  return i;
}

function read(root: { doc: unknown }, segs: string[]): unknown {
  const { parent, key } = parentOf(root, segs);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false)];
  const p = parent as Record<string, unknown>;
  if (!Object.hasOwn(p, key)) throw new PatchError(`path /${segs.join('/')} does not exist`);
  return p[key];
}

function add(root: { doc: unknown }, segs: string[], value: unknown): void {
  const { parent, key } = parentOf(root, segs);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else (parent as Record<string, unknown>)[key] = value;
}

function remove(root: { doc: unknown }, segs: string[]): unknown {
  const value = read(root, segs);
  const { parent, key } = parentOf(root, segs);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1);
  else delete (parent as Record<string, unknown>)[key];
  return value;
}

/** Applies `ops` to a copy of `doc` (undefined: absent) and returns the result (undefined when removed). */
export function applyPatch(doc: unknown, ops: readonly PatchOperation[]): unknown {
  const root = { doc: clone(doc) };
  for (const op of ops) {
    const segs = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        add(root, segs, clone(op.value));
        break;
      case 'remove':
        remove(root, segs);
        break;
      case 'replace':
        read(root, segs);
        if (segs.length === 0) root.doc = clone(op.value);
        else {
          remove(root, segs);
          add(root, segs, clone(op.value));
        }
        break;
      case 'move': {
        const from = parsePointer(op.from!);
        if (segs.length > from.length && from.every((s, i) => segs[i] === s))
          throw new PatchError('move: cannot move a value into itself');
        add(root, segs, remove(root, from));
        break;
      }
      case 'copy':
        add(root, segs, clone(read(root, parsePointer(op.from!))));
        break;
      case 'test':
        if (!deepEqual(read(root, segs), op.value)) throw new PatchError(`test failed at ${op.path}`);
        break;
    }
  }
  return root.doc;
}
