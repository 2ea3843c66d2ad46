// An engine whose policy allows and shows everything: the gateway then only relays, which is what
// the naming and conformance tests look at.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine } from '../../src/engine/index.js';

const POLICY = `package airlock

import rego.v1

listed(kind, key) := [item[key] | some item in object.get(input, ["result", kind], [])]

decision := {
	"effect": "allow",
	"reasons": ["allow-all test policy"],
	"visible_tools": listed("tools", "name"),
	"visible_resources": listed("resources", "uri"),
	"visible_prompts": listed("prompts", "name"),
}
`;

export async function allowAllEngine(): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-allow-all-'));
  try {
    writeFileSync(join(dir, 'allow.rego'), POLICY);
    const tree = await loadPolicyTree([dir]);
    const engine = new Engine();
    await engine.activate(buildBundle(tree, { entrypoints: ['airlock/decision'] }).bundle, 'allow-all');
    return engine;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
