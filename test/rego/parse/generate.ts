// Generates large, valid Rego v1 policies for the linearity test and the parse bench.

/** A module of about `bytes` characters mixing the constructs found in real policies. */
export function generatePolicy(bytes: number): string {
  const parts: string[] = ['package bench.generated\n\nimport rego.v1\nimport data.roles\n\n'];
  let size = parts[0]!.length;
  for (let i = 0; size < bytes; i++) {
    const rule = ruleText(i);
    parts.push(rule);
    size += rule.length;
  }
  return parts.join('');
}

function ruleText(i: number): string {
  switch (i % 6) {
    case 0:
      return `# Tool ${i} is allowed for its group.
allow_${i} if {
  input.tool.name == "tool_${i}"
  some g in input.user.groups
  g in {"eng", "ops", "sec_${i}"}
  not input.tool.annotations.destructiveHint
}

`;
    case 1:
      return `deny contains msg if {
  input.arguments.size > ${i * 10} + 2 * 3
  msg := sprintf("argument %v too large (%d)", [input.arguments.name, ${i}])
}

`;
    case 2:
      return `limits[name] := value if {
  some name, value in {"rate_${i}": ${i}.5e2, "burst_${i}": -${i}}
  value >= 0
}

`;
    case 3:
      return `f_${i}(x, y) := z if {
  z := [v | some v in x; v != y]
} else := []

`;
    case 4:
      return `checked_${i} if {
  every k, v in input.arguments {
    is_string(k)
    count([c | c := v[_]]) < ${i + 1}
  }
  data.lib.ok with input.user as {"sub": "u${i}", "groups": set()}
}

`;
    default:
      return `default level_${i} := "low"
level_${i} := "high" if input.tool.name in {\`raw_${i}\`, "t\\u00e9l\\n"} | {"x"}

`;
  }
}
