# METADATA
# title: Personal data and secrets
# description: |
#   Finds personal data and secrets in tool arguments and results with the
#   detectors of data.pii.detectors (a regular expression each, plus a Luhn
#   check for card numbers). Results: every string that holds a finding of a
#   kind in data.pii.redact_in_results is redacted before it reaches the model.
#   Arguments: a call to an external server (data.servers[s].external, or a
#   server not registered at all) is denied when an argument holds a kind in
#   data.pii.block_in_external_arguments, unless data.pii.exempt allows that
#   kind for that tool; a server with `"pii_arguments": "redact"` gets the
#   arguments redacted instead.
package airlock.pii

import rego.v1

import data.airlock.match

# luhn_valid(digits): a string of 13 to 19 digits whose Luhn checksum holds (and not all zeros).
luhn_valid(digits) if {
	regex.match(`^[0-9]{13,19}$`, digits)
	values := [to_number(c) | some c in split(digits, "")]
	n := count(values)
	total := sum([v |
		some i, d in values
		v := luhn_term(d, (n - 1 - i) % 2)
	])
	total > 0
	total % 10 == 0
}

# luhn_term(digit, doubled): every second digit from the right is doubled, minus 9 above 9.
luhn_term(d, 0) := d

luhn_term(d, 1) := d * 2 if d < 5

luhn_term(d, 1) := d * 2 - 9 if d >= 5

# found(kind, text): text holds something detector `kind` recognises.
found(kind, text) if {
	detector := data.pii.detectors[kind]
	not detector.luhn
	regex.match(detector.regex, text)
}

found(kind, text) if {
	detector := data.pii.detectors[kind]
	detector.luhn == true
	some candidate in regex.find_n(detector.regex, text, -1)
	luhn_valid(regex.replace(candidate, `[^0-9]`, ""))
}

# pointer(path): a walk() path as a JSON pointer (RFC 6901).
pointer(path) := concat("", [sprintf("/%s", [escape_segment(seg)]) | some seg in path])

escape_segment(seg) := replace(replace(sprintf("%v", [seg]), "~", "~0"), "/", "~1")

# any_detector(kinds): one regular expression that matches a string wherever the regex of any
# detector in kinds does: each in its own non-capturing group, so that inline flags such as (?i)
# stay within it (RE2 scopes flags to their group).
any_detector(kinds) := concat("|", [sprintf("(?:%s)", [data.pii.detectors[k].regex]) | some k in kinds])

# anchored(kinds): some detector in kinds may anchor to the edges of its text (^, $, \A, \z;
# a ^ or $ anywhere counts, even escaped or in a class).
anchored(kinds) if {
	some k in kinds
	some anchor in ["^", "$", `\A`, `\z`]
	contains(data.pii.detectors[k].regex, anchor)
}

# none_found(texts, kinds): the prefilter does not match the texts joined by newlines, so none of
# them holds a finding. Sound without anchors only: elsewhere a match in one text is a match in
# the joined text, since a newline is no word character, as the edge of a text is not (\b, \B).
# A prefilter that does not compile makes regex.match undefined: findings are then looked for.
none_found(texts, kinds) if {
	not anchored(kinds)
	regex.match(any_detector(kinds), concat("\n", texts)) == false
}

# may_hold(prefilter, valid, text): text may hold a finding. A string the prefilter does not
# match holds none, so the detectors run one by one only on the strings it lets through (one
# regex.match per string instead of one per string and detector). A prefilter that does not
# compile (`valid` false: a broken detector) lets every string through.
may_hold(_, false, _)

may_hold(prefilter, true, text) if regex.match(prefilter, text)

# strings_in(doc): [path, text] for every string in doc.
strings_in(doc) := [[path, value] |
	walk(doc, [path, value])
	is_string(value)
]

# findings(doc, kinds): {"path", "kind"} for every string in doc holding one of kinds.
findings(doc, kinds) := findings_in(strings_in(doc), kinds)

findings_in(leaves, kinds) := set() if {
	none_found([text | some [_, text] in leaves], kinds)
} else := {{"path": pointer(path), "kind": kind} |
	prefilter := any_detector(kinds)
	valid := regex.is_valid(prefilter)
	some [path, value] in leaves
	may_hold(prefilter, valid, value)
	some kind in kinds
	found(kind, value)
}

# ---------------------------------------------------------------- results

result_kinds := {k | some k in data.pii.redact_in_results}

# The methods whose results carry upstream content (lists carry only names and annotations).
content_actions := {"tools/call", "resources/read", "prompts/get"}

# The redactions of input.result, for phase response: [{"path", "pattern"}] sorted by path.
# `pattern` is `pii.<detector>`, naming data.pii.detectors[<detector>].
result_redactions := [{"path": f.path, "pattern": concat(".", ["pii", f.kind])} |
	some f in findings(input.result, result_kinds)
] if {
	input.phase == "response"
	input.action in content_actions
	input.result
}

# The user's model answering an external server's sampling request: its answer goes to that
# server, so PII in it is redacted as in any result (lib/relay.rego decides whether it may sample).
result_redactions := [{"path": f.path, "pattern": concat(".", ["pii", f.kind])} |
	some f in findings(input.result, result_kinds)
] if {
	input.phase == "response"
	input.action == "sampling/createMessage"
	external(input.server.name)
	input.result
}

redact_reasons contains sprintf("result %s holds %s", [f.path, f.pattern]) if some f in result_redactions

# ---------------------------------------------------------------- arguments

server := input.server.name

tool := input.tool.name

external(name) if data.servers[name].external == true

external(name) if not data.servers[name]

exempt(server_name, tool_name, kind) if {
	some tool_pattern, kinds in data.pii.exempt[server_name]
	match.name(tool_pattern, tool_name)
	kind in kinds
}

argument_kinds := {k |
	some k in data.pii.block_in_external_arguments
	not exempt(server, tool, k)
}

# Findings in the arguments of a tools/call to an external server (phase request).
argument_findings := findings(input.arguments, argument_kinds) if {
	input.phase == "request"
	input.action == "tools/call"
	external(server)
}

redact_arguments_mode if data.servers[server].pii_arguments == "redact"

deny contains sprintf("argument %s holds %s, which may not be sent to external server %s", [f.path, f.kind, server]) if {
	not redact_arguments_mode
	some f in argument_findings
}

# Pointers of every argument holding a finding, sorted: a denied call's
# arguments are kept masked there in the audit trail.
finding_paths := sort({f.path | some f in argument_findings})

# Pointers of the arguments to redact on servers in redact mode, sorted.
argument_redactions := sort([f.path | some f in argument_findings]) if redact_arguments_mode

redact_reasons contains sprintf("argument %s holds %s", [f.path, f.kind]) if {
	redact_arguments_mode
	some f in argument_findings
}
