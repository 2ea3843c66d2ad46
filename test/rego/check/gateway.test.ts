// A realistic gateway policy, in the style Airlock's users write: it must check
// cleanly, with the structure the planner relies on.
import t from 'tap';
import { formatTerm } from '../../../src/rego/format/index.js';
import { errs, partsOf, programOf, query, violations } from './helpers.js';

const decision = `package airlock

import data.airlock.lib.tools
import rego.v1

# METADATA
# entrypoint: true
default decision := {"effect": "deny", "reasons": ["no rule allowed the call"]}

decision := {"effect": "allow", "reasons": []} if {
  not destructive
  allowed_by_role
}

decision := {"effect": "require_approval", "approval": {"approvers": ["group:security"], "ttl_seconds": 3600}, "reasons": reasons} if {
  destructive
  allowed_by_role
}

destructive if input.tool.annotations.destructiveHint == true

destructive if {
  some pattern in tools.destructive_patterns
  regex.match(pattern, input.tool.name)
}

allowed_by_role if {
  some group in input.user.groups
  input.tool.name in data.roles[group].tools
}

reasons contains msg if {
  destructive
  msg := sprintf("%s is destructive: approval from %s", [input.tool.name, "group:security"])
}

redact.arguments contains path if {
  some path, rule in tools.redactions
  startswith(path, "/")
  every p in rule.patterns {
    is_string(p)
  }
}

credentials[server] := {"mode": "on_behalf_of", "audience": aud} if {
  some server, aud in data.audiences
}
`;

const lib = `package airlock.lib.tools

destructive_patterns := ["^delete_", "^drop_", "_destroy$"]

redactions := {"/card_number": {"patterns": ["pii.credit_card"]}}

is_admin(user) if "admin" in user.groups

level(user) := "admin" if is_admin(user)
else := "user"
`;

t.test('the reference-style gateway policy checks cleanly', async (t) => {
  const p = programOf(decision, lib);
  t.same(
    [...p.groups.keys()],
    [
      'data.airlock.decision',
      'data.airlock.destructive',
      'data.airlock.allowed_by_role',
      'data.airlock.reasons',
      'data.airlock.redact.arguments',
      'data.airlock.credentials',
      'data.airlock.lib.tools.destructive_patterns',
      'data.airlock.lib.tools.redactions',
      'data.airlock.lib.tools.is_admin',
      'data.airlock.lib.tools.level',
    ],
  );
  t.same(
    p.entrypoints.map((e) => e.name),
    ['airlock/decision'],
  );
  const g = p.groups.get('data.airlock.decision');
  t.equal(g?.kind, 'complete');
  t.equal(g?.rules.length, 2);
  t.ok(g?.default);
  t.equal(p.groups.get('data.airlock.credentials')?.kind, 'partial-object');
  t.equal(p.groups.get('data.airlock.redact.arguments')?.kind, 'multi-value');
  t.equal(p.groups.get('data.airlock.lib.tools.level')?.rules[0]?.else.length, 1);
  t.same([...(p.dependencies.get('data.airlock.decision') ?? [])].sort(), [
    'data.airlock.allowed_by_role',
    'data.airlock.destructive',
    'data.airlock.reasons',
  ]);
  t.same(
    [...(p.dependencies.get('data.airlock.destructive') ?? [])],
    ['data.airlock.lib.tools.destructive_patterns'],
  );
  // The import alias is expanded where it is used.
  const body = p.groups.get('data.airlock.destructive')?.rules[1]?.body ?? [];
  t.match(
    formatTerm(body[0]?.node as never),
    /^pattern\$\d+ = data\.airlock\.lib\.tools\.destructive_patterns\[_\$\d+\]$/,
  );
  t.same(violations(partsOf(p).bodies, partsOf(p).heads), []);

  const q = query('data.airlock.decision = d', p);
  t.same(errs(q.errors), []);
  t.same(q.query?.bindings, [{ name: 'd', var: 'd' }]);
});
