// `# METADATA` blocks: a comment line whose text starts with METADATA, followed
// by comment lines on consecutive lines starting in column 1, form a YAML
// document describing the package or rule that follows.

import { parseDocument } from 'yaml';
import type { AnnotationScope, Annotations, Comment, Location, RegoError } from '../ast.js';

const scopes: readonly AnnotationScope[] = ['package', 'rule', 'document', 'subpackages'];

/** A METADATA block before scope resolution: `scope` is undefined when the YAML does not say. */
export interface AnnotationBlock {
  annotations: Omit<Annotations, 'scope'> & { scope?: string };
  /** Line of the `# METADATA` comment. */
  line: number;
}

interface RawBlock {
  head: Comment;
  lines: Comment[];
}

/** Finds and decodes every METADATA block; problems become parse errors at the block (or faulty line). */
export function parseAnnotationBlocks(comments: Comment[]): {
  blocks: AnnotationBlock[];
  errors: RegoError[];
} {
  const raws: RawBlock[] = [];
  let curr: RawBlock | undefined;
  let prev: Comment | undefined;
  for (const c of comments) {
    if (curr && prev && c.location.line === prev.location.line + 1 && c.location.col === 1) {
      curr.lines.push(c);
      prev = c;
      continue;
    }
    curr = undefined;
    if (c.text.trim().startsWith('METADATA')) {
      curr = { head: c, lines: [] };
      raws.push(curr);
    }
    prev = c;
  }
  const blocks: AnnotationBlock[] = [];
  const errors: RegoError[] = [];
  for (const raw of raws) {
    const result = decodeBlock(raw);
    if ('error' in result) errors.push(result.error);
    else blocks.push({ annotations: result.annotations, line: raw.head.location.line });
  }
  return { blocks, errors };
}

function parseError(location: Location, message: string): { error: RegoError } {
  return { error: { code: 'rego_parse_error', message, location } };
}

function decodeBlock(raw: RawBlock): { annotations: AnnotationBlock['annotations'] } | { error: RegoError } {
  const at = raw.head.location;
  const text = raw.lines.map((c) => (c.text.startsWith(' ') ? c.text.slice(1) : c.text)).join('\n');
  if (text.trim() === '') return parseError(at, 'expected METADATA block, found whitespace');
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = yamlError.pos?.[0];
    const line = pos === undefined ? undefined : text.slice(0, pos).split('\n').length;
    const where = line !== undefined ? (raw.lines[line - 1]?.location ?? at) : at;
    return parseError(where, `invalid METADATA YAML: ${yamlError.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return parseError(at, 'invalid METADATA block: expected a YAML mapping of annotation fields');
  }
  const y = value as Record<string, unknown>;
  const out: AnnotationBlock['annotations'] = { raw: text, location: at };
  const bad = (field: string, want: string) =>
    parseError(at, `invalid METADATA field "${field}": expected ${want}`);

  if (y.scope !== undefined) {
    if (typeof y.scope !== 'string') return bad('scope', 'a string');
    out.scope = y.scope;
  }
  for (const field of ['title', 'description'] as const) {
    const v = y[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return bad(field, 'a string');
    out[field] = v;
  }
  if (y.entrypoint !== undefined && y.entrypoint !== null) {
    if (typeof y.entrypoint !== 'boolean') return bad('entrypoint', 'true or false');
    out.entrypoint = y.entrypoint;
  }
  if (y.organizations !== undefined && y.organizations !== null) {
    if (!Array.isArray(y.organizations) || !y.organizations.every((o) => typeof o === 'string')) {
      return bad('organizations', 'a list of strings');
    }
    out.organizations = y.organizations as string[];
  }
  if (y.related_resources !== undefined && y.related_resources !== null) {
    if (!Array.isArray(y.related_resources)) return bad('related_resources', 'a list');
    out.relatedResources = [];
    for (const r of y.related_resources) {
      if (typeof r === 'string' && r.trim() !== '') out.relatedResources.push({ ref: r.trim() });
      else if (r && typeof r === 'object' && !Array.isArray(r)) {
        const o = r as Record<string, unknown>;
        const ref = typeof o.ref === 'string' ? o.ref.trim() : '';
        if (ref === '')
          return parseError(at, "invalid related-resource definition: 'ref' value required in object");
        const entry: { ref: string; description?: string } = { ref };
        if (typeof o.description === 'string') entry.description = o.description.trim();
        out.relatedResources.push(entry);
      } else {
        return parseError(at, 'invalid related-resource definition: must be a non-empty string or a map');
      }
    }
  }
  if (y.authors !== undefined && y.authors !== null) {
    if (!Array.isArray(y.authors)) return bad('authors', 'a list');
    out.authors = [];
    for (const a of y.authors) {
      const author = decodeAuthor(a);
      if (!author) {
        return parseError(
          at,
          'invalid author definition: expected "Name <email>" or a map with name and/or email',
        );
      }
      out.authors.push(author);
    }
  }
  if (y.schemas !== undefined && y.schemas !== null) {
    if (!Array.isArray(y.schemas)) return bad('schemas', 'a list');
    out.schemas = y.schemas;
  }
  if (y.custom !== undefined && y.custom !== null) {
    if (typeof y.custom !== 'object' || Array.isArray(y.custom)) return bad('custom', 'a map');
    out.custom = y.custom as Record<string, unknown>;
  }
  return { annotations: out };
}

function decodeAuthor(a: unknown): { name?: string; email?: string } | undefined {
  if (typeof a === 'string') {
    const parts = a.trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0) return undefined;
    const last = parts[parts.length - 1]!;
    const out: { name?: string; email?: string } = {};
    if (last.length >= 2 && last.startsWith('<') && last.endsWith('>')) {
      out.email = last.slice(1, -1);
      parts.pop();
    }
    if (parts.length > 0) out.name = parts.join(' ');
    return out;
  }
  if (a && typeof a === 'object' && !Array.isArray(a)) {
    const o = a as Record<string, unknown>;
    const name = typeof o.name === 'string' ? o.name.trim() : '';
    const email = typeof o.email === 'string' ? o.email.trim() : '';
    if (name === '' && email === '') return undefined;
    const out: { name?: string; email?: string } = {};
    if (name) out.name = name;
    if (email) out.email = email;
    return out;
  }
  return undefined;
}

/** What follows a block: the first statement on a later line. */
export type AnnotationTarget = {
  kind: 'package' | 'import' | 'rule';
  line: number;
  attach?: (a: Annotations) => void;
};

/**
 * Resolves each block's scope from what follows it (package → `package`, rule →
 * `rule`) and checks the scope fits. Returns the annotations in source order.
 */
export function attachAnnotations(
  blocks: AnnotationBlock[],
  targets: AnnotationTarget[],
): { annotations: Annotations[]; errors: RegoError[] } {
  const annotations: Annotations[] = [];
  const errors: RegoError[] = [];
  let ti = 0;
  for (const b of blocks) {
    while (ti < targets.length && targets[ti]!.line <= b.line) ti++;
    const target = targets[ti];
    const scope = b.annotations.scope ?? target?.kind ?? 'rule';
    const have = target ? ` (have ${target.kind})` : '';
    const loc = b.annotations.location;
    if (!(scopes as readonly string[]).includes(scope)) {
      errors.push({
        code: 'rego_parse_error',
        message: `invalid annotation scope '${scope}'`,
        location: loc,
      });
      continue;
    }
    const want = scope === 'rule' || scope === 'document' ? 'rule' : 'package';
    if (target?.kind !== want) {
      errors.push({
        code: 'rego_parse_error',
        message: `annotation scope '${scope}' must be applied to ${want}${have}`,
        location: loc,
      });
      continue;
    }
    const a: Annotations = { ...b.annotations, scope: scope as AnnotationScope };
    annotations.push(a);
    target.attach?.(a);
  }
  return { annotations, errors };
}
