// The canonical encoding of an audit event and the hash chain over it.
//
// Encoding, version 1 (what `airlock audit verify` recomputes; changing it needs a new version):
//
//   1. Build one JSON object with exactly these 23 members, every one present, `null` when absent:
//        v (the number 1), seq (integer), time (string: ISO 8601 UTC with milliseconds,
//        `YYYY-MM-DDTHH:MM:SS.sssZ`), kind, decision_id, phase, user_sub, user_claims, agent_id,
//        actor, model, virtual_server, upstream_server, target_type, target_name, arguments, result,
//        effect, reasons, approval_id, bundle_revision, timings, details
//      The string members are the column values; the others are the `jsonb` values as stored.
//      One optional member is added only when its column is not NULL, so events written before it
//      existed keep their hashes: requested_by (string, migration 0003).
//   2. Serialise it with the JSON Canonicalization Scheme (RFC 8785): members sorted by the UTF-16
//      code units of their names, no whitespace, ECMAScript number formatting, minimal string escapes.
//   3. Encode that text as UTF-8.
//
//   hash(event) = SHA-256( UTF-8(JCS(object)) ‖ prev_hash )
//
// where `prev_hash` is the 32 raw bytes of the previous event's hash (32 zero bytes for seq 1). Hashes
// are stored and printed as 64 lowercase hex digits.
//
// Only values that survive a round trip through Postgres `jsonb` unchanged are accepted (finite numbers,
// no U+0000, no lone surrogates), so the hash computed at insert equals the hash recomputed from the
// stored row.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEvent, AuditEventInput, Json } from './types.js';
import { EFFECTS, EVENT_KINDS, PHASES, TARGET_TYPES } from './types.js';

export const ENCODING_VERSION = 1;
export const GENESIS_HASH = '0'.repeat(64);

/** Bounds on untrusted event content. */
export interface EventLimits {
  /** Maximum size of the canonical encoding of one event, in bytes. */
  maxEventBytes: number;
  /** Maximum nesting depth of a JSON value. */
  maxDepth: number;
  /** Maximum length of a short text field (ids, names), in UTF-16 code units. */
  maxTextLength: number;
}

export const DEFAULT_LIMITS: EventLimits = { maxEventBytes: 1024 * 1024, maxDepth: 64, maxTextLength: 1024 };

/** Raised for an event that cannot be recorded as given; `path` names the offending field. */
export class InvalidEventError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`invalid audit event: ${path}: ${message}`);
    this.name = 'InvalidEventError';
  }
}

/** An event ready for the chain: validated, normalised, without its position (seq, time, hashes). */
export type ChainContent = Omit<AuditEvent, 'seq' | 'time' | 'prevHash' | 'hash'>;

/**
 * The first code unit of `s` that Postgres text and jsonb cannot hold: U+0000, or a UTF-16 surrogate
 * without its other half. Undefined when `s` can be stored as is.
 */
export function unstorableCodeUnit(s: string): { index: number; code: number } | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return { index: i, code: c };
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return { index: i, code: c };
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return { index: i, code: c };
  }
  return undefined;
}

function badString(s: string): string | undefined {
  const bad = unstorableCodeUnit(s);
  if (!bad) return undefined;
  return bad.code === 0 ? 'contains U+0000, which Postgres cannot store' : 'contains a lone UTF-16 surrogate';
}

/** A deep copy of `value` as plain JSON, or an InvalidEventError naming the first bad part. */
export function toJson(value: unknown, path: string, maxDepth = DEFAULT_LIMITS.maxDepth, depth = 0): Json {
  if (depth > maxDepth) throw new InvalidEventError(path, `nested deeper than ${maxDepth} levels`);
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidEventError(path, `${value} is not a JSON number`);
      return Object.is(value, -0) ? 0 : value;
    case 'string': {
      const why = badString(value);
      if (why) throw new InvalidEventError(path, why);
      return value;
    }
    case 'object': {
      if (Array.isArray(value)) return value.map((v, i) => toJson(v, `${path}/${i}`, maxDepth, depth + 1));
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvalidEventError(path, `a ${proto?.constructor?.name ?? 'non-plain'} object is not JSON`);
      }
      const out: { [key: string]: Json } = Object.create(null);
      for (const [k, v] of Object.entries(value)) {
        const key = k.replaceAll('~', '~0').replaceAll('/', '~1');
        const why = badString(k);
        if (why) throw new InvalidEventError(`${path}/${key}`, `member name ${why}`);
        if (v === undefined) continue;
        out[k] = toJson(v, `${path}/${key}`, maxDepth, depth + 1);
      }
      return out;
    }
    default:
      throw new InvalidEventError(path, `a ${typeof value} is not JSON`);
  }
}

function text(value: unknown, path: string, limits: EventLimits): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new InvalidEventError(path, `expected a string, got ${typeof value}`);
  if (value.length === 0) throw new InvalidEventError(path, 'must not be empty');
  if (value.length > limits.maxTextLength) {
    throw new InvalidEventError(path, `longer than ${limits.maxTextLength} characters`);
  }
  const why = badString(value);
  if (why) throw new InvalidEventError(path, why);
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidEventError(path, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function json(value: unknown, path: string, limits: EventLimits): Json {
  return value === undefined ? null : toJson(value, path, limits.maxDepth);
}

/** Validates an event from the gateway and normalises it to the stored shape. */
export function normaliseEvent(input: AuditEventInput, limits: EventLimits = DEFAULT_LIMITS): ChainContent {
  return measuredEvent(input, limits).content;
}

/** normaliseEvent, also returning the size of the canonical encoding in bytes. */
export function measuredEvent(
  input: AuditEventInput,
  limits: EventLimits = DEFAULT_LIMITS,
): { content: ChainContent; bytes: number; parts: CanonicalParts } {
  if (typeof input !== 'object' || input === null) throw new InvalidEventError('', 'expected an object');
  const kind = oneOf(input.kind, EVENT_KINDS, '/kind');
  if (kind === null) throw new InvalidEventError('/kind', 'is required');
  const user = input.user ?? null;
  if (user !== null && (typeof user !== 'object' || typeof user.sub !== 'string')) {
    throw new InvalidEventError('/user', 'expected {sub, claims?}');
  }
  const target = input.target ?? null;
  if (target !== null && typeof target !== 'object')
    throw new InvalidEventError('/target', 'expected {type, name}');
  let reasons: Json = null;
  if (input.reasons !== undefined && input.reasons !== null) {
    if (!Array.isArray(input.reasons))
      throw new InvalidEventError('/reasons', 'expected an array of strings');
    reasons = input.reasons.map((r, i) => {
      if (typeof r !== 'string') throw new InvalidEventError(`/reasons/${i}`, 'expected a string');
      return toJson(r, `/reasons/${i}`);
    });
  }
  const content: ChainContent = {
    kind,
    decisionId: text(input.decisionId, '/decisionId', limits),
    phase: oneOf(input.phase, PHASES, '/phase'),
    userSub: user === null ? null : text(user.sub, '/user/sub', limits),
    userClaims: user === null ? null : json(user.claims, '/user/claims', limits),
    requestedBy: text(input.requestedBy, '/requestedBy', limits),
    agentId: text(input.agentId, '/agentId', limits),
    actor: json(input.actor, '/actor', limits),
    model: json(input.model, '/model', limits),
    virtualServer: text(input.virtualServer, '/virtualServer', limits),
    upstreamServer: text(input.upstreamServer, '/upstreamServer', limits),
    targetType: target === null ? null : oneOf(target.type, TARGET_TYPES, '/target/type'),
    targetName: target === null ? null : text(target.name, '/target/name', limits),
    arguments: json(input.arguments, '/arguments', limits),
    result: json(input.result, '/result', limits),
    effect: oneOf(input.effect, EFFECTS, '/effect'),
    reasons,
    approvalId: text(input.approvalId, '/approvalId', limits),
    bundleRevision: text(input.bundleRevision, '/bundleRevision', limits),
    timings: json(input.timings, '/timings', limits),
    details: json(input.details, '/details', limits),
  };
  if (target !== null && (content.targetType === null || content.targetName === null)) {
    throw new InvalidEventError('/target', 'needs both type and name');
  }
  // Bound the size with a placeholder position: seq and time add at most a few dozen bytes.
  const parts = canonicalParts(content);
  const size =
    Buffer.byteLength(parts.beforeSeq) +
    Buffer.byteLength(parts.beforeTime) +
    Buffer.byteLength(parts.rest) +
    PLACEHOLDER_POSITION_BYTES;
  if (size > limits.maxEventBytes) {
    throw new InvalidEventError(
      '',
      `canonical encoding is ${size} bytes, over the limit of ${limits.maxEventBytes}`,
    );
  }
  return { content, bytes: size, parts };
}

/** Bytes of `0` (seq) and `1970-01-01T00:00:00.000Z` (time): the placeholder position above. */
const PLACEHOLDER_POSITION_BYTES = 1 + 24;

/**
 * The canonical encoding of an event cut around its position, for a writer that learns the position
 * only where the chain head is (the database's append function, migration 0004):
 *
 *   encodeEvent({ ...content, seq, time }) ===
 *     beforeSeq + String(seq) + beforeTime + time.toISOString() + rest
 *
 * JCS sorts members by name, and the names are fixed, so `seq` and `time` sit at known places; each
 * member's value is canonicalised on its own, exactly as in the whole object.
 */
export interface CanonicalParts {
  /** `{…,"seq":` */
  beforeSeq: string;
  /** `,"target_name":…,"time":"` */
  beforeTime: string;
  /** `","timings":…}` */
  rest: string;
}

export function canonicalParts(content: ChainContent): CanonicalParts {
  const doc: Record<string, unknown> = {
    v: ENCODING_VERSION,
    ...eventFields({ ...content, seq: 0, time: new Date(0) }),
  };
  const names = Object.keys(doc).sort();
  const cut: string[] = [];
  let current = '{';
  names.forEach((name, i) => {
    current += `${i > 0 ? ',' : ''}${JSON.stringify(name)}:`;
    if (name === 'seq' || name === 'time') {
      if (name === 'time') current += '"';
      cut.push(current);
      current = name === 'time' ? '"' : '';
      return;
    }
    const value = canonicalize(doc[name]);
    if (value === undefined) throw new Error(`member ${name} has no canonical encoding`);
    current += value;
  });
  cut.push(`${current}}`);
  const [beforeSeq, beforeTime, rest] = cut;
  if (cut.length !== 3 || beforeSeq === undefined || beforeTime === undefined || rest === undefined)
    throw new Error('seq and time must both be members of the canonical object');
  return { beforeSeq, beforeTime, rest };
}

/** An event's fields under their column (snake_case) names, without the chain hashes:
 * what is hashed, and what JSON output shows next to `prev_hash` and `hash`. */
export function eventFields(e: Omit<AuditEvent, 'prevHash' | 'hash'>): Record<string, unknown> {
  return {
    seq: e.seq,
    time: e.time.toISOString(),
    kind: e.kind,
    decision_id: e.decisionId,
    phase: e.phase,
    user_sub: e.userSub,
    user_claims: e.userClaims,
    agent_id: e.agentId,
    actor: e.actor,
    model: e.model,
    virtual_server: e.virtualServer,
    upstream_server: e.upstreamServer,
    target_type: e.targetType,
    target_name: e.targetName,
    arguments: e.arguments,
    result: e.result,
    effect: e.effect,
    reasons: e.reasons,
    approval_id: e.approvalId,
    bundle_revision: e.bundleRevision,
    timings: e.timings,
    details: e.details,
    // Optional member: present only when set (see the encoding above).
    ...(e.requestedBy !== null && e.requestedBy !== undefined ? { requested_by: e.requestedBy } : {}),
  };
}

/** The canonical text of an event (see the top of this file). */
export function encodeEvent(e: Omit<AuditEvent, 'prevHash' | 'hash'>): string {
  if (!Number.isSafeInteger(e.seq) || e.seq < 0) throw new Error(`bad sequence number ${e.seq}`);
  const doc = { v: ENCODING_VERSION, ...eventFields(e) };
  const out = canonicalize(doc);
  if (out === undefined) throw new Error('event has no canonical encoding');
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** hash = SHA-256(UTF-8(canonical encoding) ‖ prev_hash bytes), as lowercase hex. */
export function chainHash(e: Omit<AuditEvent, 'prevHash' | 'hash'>, prevHash: string): string {
  if (!HEX64.test(prevHash)) throw new Error('previous hash must be 64 lowercase hex digits');
  return createHash('sha256')
    .update(encodeEvent(e), 'utf8')
    .update(Buffer.from(prevHash, 'hex'))
    .digest('hex');
}
