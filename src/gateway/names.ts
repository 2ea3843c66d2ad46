// The names a virtual server shows for its upstreams' tools and prompts. `prefixed` (the default)
// shows `<upstream>__<name>`; `bare` shows the upstream's own name, which must then be unique across
// the virtual server; per-item aliases replace either. Every shown name fits the 64 characters MCP
// clients accept. Resources keep their URIs and are not named here.
import type { VirtualServerConfig } from './config.js';

/** Separator of prefixed names: `<upstream>__<name>`. */
export const NAME_SEPARATOR = '__';

/** The longest tool or prompt name widely used MCP clients accept. */
export const MAX_NAME_LENGTH = 64;

export type NamedKind = 'tools' | 'prompts';

/** Two upstreams' items would be shown under one name, or a name is too long: a configuration error. */
export class NameConflictError extends Error {
  override name = 'NameConflictError';
}

/** Where a shown name leads: the upstream and its own name for the item. */
export interface NameTarget {
  upstream: string;
  name: string;
}

const noun = (kind: NamedKind) => (kind === 'tools' ? 'tool' : 'prompt');

/** How one virtual server names its upstreams' items. */
export class Naming {
  readonly virtual: string;
  readonly mode: 'prefixed' | 'bare';
  readonly #members: readonly string[];
  /** kind → upstream → own name → alias */
  readonly #aliases: Record<NamedKind, Map<string, Map<string, string>>>;
  /** kind → alias → target */
  readonly #byAlias: Record<NamedKind, Map<string, NameTarget>>;

  constructor(config: VirtualServerConfig) {
    this.virtual = config.name;
    this.mode = config.tool_names ?? 'prefixed';
    this.#members = config.upstreams;
    this.#aliases = { tools: new Map(), prompts: new Map() };
    this.#byAlias = { tools: new Map(), prompts: new Map() };
    for (const kind of ['tools', 'prompts'] as const)
      for (const [upstream, names] of Object.entries(config.aliases?.[kind] ?? {}))
        for (const [own, alias] of Object.entries(names)) {
          let m = this.#aliases[kind].get(upstream);
          if (!m) this.#aliases[kind].set(upstream, (m = new Map()));
          m.set(own, alias);
          this.#byAlias[kind].set(alias, { upstream, name: own });
        }
  }

  /** Whether resolving a shown name needs the upstreams' lists (bare names do; prefixes and aliases do not). */
  get needsLists(): boolean {
    return this.mode === 'bare';
  }

  /** Whether anything but the default naming is configured (what the start-up check looks at). */
  get customised(): boolean {
    return this.mode === 'bare' || this.#byAlias.tools.size > 0 || this.#byAlias.prompts.size > 0;
  }

  /** The name shown for `upstream`'s item `own`. */
  shown(kind: NamedKind, upstream: string, own: string): string {
    const alias = this.#aliases[kind].get(upstream)?.get(own);
    if (alias !== undefined) return alias;
    return this.mode === 'bare' ? own : `${upstream}${NAME_SEPARATOR}${own}`;
  }

  /**
   * Every shown name of `listed` (each upstream's own names), checked: throws NameConflictError when
   * two items share a shown name (naming both upstreams) or a shown name exceeds MAX_NAME_LENGTH.
   */
  table(kind: NamedKind, listed: Iterable<NameTarget>): Map<string, NameTarget> {
    const table = new Map<string, NameTarget>();
    for (const target of listed) {
      const name = this.shown(kind, target.upstream, target.name);
      const other = table.get(name);
      if (other)
        throw new NameConflictError(
          `virtual server ${this.virtual}: ${noun(kind)} name ${name} is offered by upstream ${other.upstream} (${other.name}) and by upstream ${target.upstream} (${target.name}); give one of them an alias (aliases.${kind}.<upstream>.<name>)`,
        );
      if (name.length > MAX_NAME_LENGTH)
        throw new NameConflictError(
          `virtual server ${this.virtual}: ${noun(kind)} name ${name} of upstream ${target.upstream} has ${name.length} characters, more than the ${MAX_NAME_LENGTH} MCP clients accept; give it an alias (aliases.${kind}.${target.upstream}.<name>)`,
        );
      table.set(name, target);
    }
    return table;
  }

  /**
   * Where `shown` leads without looking at lists: an alias, or a prefixed name of a member upstream
   * whose item has no alias. Undefined when it leads nowhere or only the lists can tell (bare names).
   */
  resolveStatic(kind: NamedKind, shown: string): NameTarget | undefined {
    if (shown.length > MAX_NAME_LENGTH) return undefined;
    const alias = this.#byAlias[kind].get(shown);
    if (alias) return alias;
    if (this.mode !== 'prefixed') return undefined;
    const at = shown.indexOf(NAME_SEPARATOR);
    if (at <= 0) return undefined;
    const upstream = shown.slice(0, at);
    const own = shown.slice(at + NAME_SEPARATOR.length);
    if (!this.#members.includes(upstream) || this.#aliases[kind].get(upstream)?.has(own)) return undefined;
    return { upstream, name: own };
  }
}

/**
 * What can be checked in the configuration alone: aliases name member upstreams, are unique per
 * kind, and do not pose as another member's prefixed name; prefixed names leave room for a name.
 * Returns the problems found (empty when none).
 */
export function namingProblems(config: VirtualServerConfig): string[] {
  const problems: string[] = [];
  const v = config.name;
  const mode = config.tool_names ?? 'prefixed';
  if (mode === 'prefixed')
    for (const u of config.upstreams)
      if (u.length + NAME_SEPARATOR.length >= MAX_NAME_LENGTH)
        problems.push(
          `virtual server ${v}: upstream name ${u} leaves no room for a prefixed name within ${MAX_NAME_LENGTH} characters`,
        );
  for (const kind of ['tools', 'prompts'] as const) {
    const seen = new Map<string, string>();
    for (const [upstream, names] of Object.entries(config.aliases?.[kind] ?? {})) {
      if (!config.upstreams.includes(upstream))
        problems.push(
          `virtual server ${v}: aliases.${kind} names upstream ${upstream}, which it does not aggregate`,
        );
      for (const [own, alias] of Object.entries(names)) {
        const where = `${upstream}.${own}`;
        const before = seen.get(alias);
        if (before)
          problems.push(
            `virtual server ${v}: aliases.${kind}.${before} and aliases.${kind}.${where} are both ${alias}`,
          );
        seen.set(alias, where);
        const at = alias.indexOf(NAME_SEPARATOR);
        if (mode === 'prefixed' && at > 0 && config.upstreams.includes(alias.slice(0, at)))
          problems.push(
            `virtual server ${v}: aliases.${kind}.${where} (${alias}) looks like a prefixed name of upstream ${alias.slice(0, at)}`,
          );
      }
    }
  }
  return problems;
}
