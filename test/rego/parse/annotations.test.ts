import t from 'tap';
import { formatError } from '../../../src/rego/ast.js';
import { parseModule } from '../../../src/rego/parse/index.js';

const source = `# METADATA
# title: Tool policy
# description: Decides MCP tool calls
# authors:
# - Alice Doe <alice@corp.example>
# - name: Bob
# organizations: [corp]
package airlock.decision

# METADATA
# title: Allow
# entrypoint: true
# related_resources:
# - https://example.com/doc
# - ref: https://example.com/other
#   description: other doc
# schemas:
# - input: schema.input
# custom:
#   severity: high
#   tags: [a, b]
allow if input.ok

# an ordinary comment
deny := false

# METADATA
# scope: document
# title: the f document
f(x) := x
`;

t.test('METADATA blocks are decoded and attached', async (t) => {
  const r = parseModule(source, 'a.rego');
  t.same(r.errors, []);
  const m = r.module!;
  t.equal(m.annotations.length, 3);
  const [pkg, allow, doc] = m.annotations;
  t.match(pkg, {
    scope: 'package',
    title: 'Tool policy',
    description: 'Decides MCP tool calls',
    authors: [{ name: 'Alice Doe', email: 'alice@corp.example' }, { name: 'Bob' }],
    organizations: ['corp'],
    location: { line: 1, col: 1 },
  });
  t.match(allow, {
    scope: 'rule',
    title: 'Allow',
    entrypoint: true,
    relatedResources: [
      { ref: 'https://example.com/doc' },
      { ref: 'https://example.com/other', description: 'other doc' },
    ],
    schemas: [{ input: 'schema.input' }],
    custom: { severity: 'high', tags: ['a', 'b'] },
    location: { line: 10, col: 1 },
  });
  t.ok(
    allow!.raw.startsWith('title: Allow\nentrypoint: true\n'),
    'raw holds the YAML without the # prefixes',
  );
  t.equal(m.rules[0]!.annotations, allow, 'a rule-scoped block hangs on the following rule');
  t.equal(m.rules[1]!.annotations, undefined);
  t.match(doc, { scope: 'document', title: 'the f document' });
  t.equal(m.rules[2]!.annotations, doc);
});

t.test('bad METADATA blocks are parse errors at the block', async (t) => {
  const errs = (src: string) => parseModule(src, 'b.rego').errors.map(formatError);
  t.same(errs('package a\n# METADATA\n# scope: galaxy\np := 1\n'), [
    "b.rego:2:1: rego_parse_error: invalid annotation scope 'galaxy'",
  ]);
  t.same(errs('package a\n# METADATA\n# scope: package\np := 1\n'), [
    "b.rego:2:1: rego_parse_error: annotation scope 'package' must be applied to package (have rule)",
  ]);
  t.same(errs('# METADATA\n# scope: rule\npackage a\n'), [
    "b.rego:1:1: rego_parse_error: annotation scope 'rule' must be applied to rule (have package)",
  ]);
  t.same(errs('package a\n# METADATA\np := 1\n'), [
    'b.rego:2:1: rego_parse_error: expected METADATA block, found whitespace',
  ]);
  t.match(errs('package a\n# METADATA\n# title: x\n# title: y\np := 1\n'), [
    /^b\.rego:4:1: rego_parse_error: invalid METADATA YAML: Map keys must be unique/,
  ]);
  t.match(errs('package a\n# METADATA\n# title: x\n# description: "unclosed\np := 1\n'), [
    /^b\.rego:4:1: rego_parse_error: invalid METADATA YAML: /,
  ]);
  t.match(errs('package a\n# METADATA\n# entrypoint: maybe\np := 1\n'), [
    /invalid METADATA field "entrypoint"/,
  ]);
  t.match(errs('package a\n# METADATA\n# authors: [{}]\np := 1\n'), [/invalid author definition/]);
  t.match(errs('package a\n# METADATA\n# related_resources: [{description: x}]\np := 1\n'), [
    /'ref' value required/,
  ]);
});

t.test('a METADATA block ends at the first line that is not a column-1 comment', async (t) => {
  const r = parseModule(
    'package a\n# METADATA\n# title: T\n\n# description: not part of it\np := 1\n',
    'c.rego',
  );
  t.same(r.errors, []);
  t.equal(r.module!.annotations[0]!.title, 'T');
  t.equal(r.module!.annotations[0]!.description, undefined);
});
