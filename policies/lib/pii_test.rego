package airlock.pii_test

import rego.v1

import data.airlock.pii

test_luhn_accepts_valid_numbers if {
	pii.luhn_valid("4111111111111111") # Visa test number
	pii.luhn_valid("5500000000000004") # Mastercard test number
	pii.luhn_valid("378282246310005") # Amex test number
}

test_luhn_rejects_invalid_numbers if {
	not pii.luhn_valid("4111111111111112")
	not pii.luhn_valid("0000000000000000")
	not pii.luhn_valid("12345")
	not pii.luhn_valid("4111-1111-1111-1111")
}

test_card_detector_applies_luhn if {
	pii.found("credit_card", "card 4111 1111 1111 1111 exp 12/29")
	pii.found("credit_card", "5500-0000-0000-0004")
	not pii.found("credit_card", "order 4111 1111 1111 1112")
	not pii.found("credit_card", "phone 555 0100")
}

test_email_detector if {
	pii.found("email", "write to Jane.Doe+x@corp.example today")
	not pii.found("email", "no address here @ all")
}

test_national_id_detectors if {
	pii.found("us_ssn", "SSN 123-45-6789")
	not pii.found("us_ssn", "SSN 000-45-6789")
	pii.found("uk_nino", "NI number AB 12 34 56 C")
	not pii.found("uk_nino", "NI number QQ123456C")
}

test_secret_detectors if {
	pii.found("aws_access_key", "key=AKIAIOSFODNN7EXAMPLE")
	pii.found("github_token", concat("", ["token ghp_", "abcdefghijklmnopqrstuvwxyz0123456789"]))
	pii.found("api_key", "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx")
	pii.found("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...")
	pii.found("jwt", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlMTIz")
	not pii.found("api_key", "the task list is short")
}

test_pointer_escapes_segments if {
	pii.pointer(["content", 0, "text"]) == "/content/0/text"
	pii.pointer(["a/b", "c~d"]) == "/a~1b/c~0d"
	pii.pointer([]) == ""
}

response := {
	"phase": "response",
	"action": "tools/call",
	"server": {"name": "crm"},
	"tool": {"name": "lookup_customer"},
	"result": {"content": [
		{"type": "text", "text": "Customer Jane, jane@corp.example, card 4111 1111 1111 1111"},
		{"type": "text", "text": "Order total 42.00"},
	]},
}

test_result_redactions if {
	pii.result_redactions == [
		{"path": "/content/0/text", "pattern": "pii.credit_card"},
		{"path": "/content/0/text", "pattern": "pii.email"},
	] with input as response
}

test_clean_result_has_no_redactions if {
	pii.result_redactions == [] with input as object.union(response, {"result": {"content": [{"type": "text", "text": "all clear"}]}})
}

test_result_kinds_come_from_data if {
	pii.result_redactions == [{"path": "/content/0/text", "pattern": "pii.email"}] with input as response with data.pii.redact_in_results as ["email"]
}

test_no_redactions_in_request_phase if {
	not pii.result_redactions with input as object.union(response, {"phase": "request"})
}

test_lists_are_not_scanned if {
	not pii.result_redactions with input as object.union(response, {"action": "tools/list", "result": {"tools": [{"name": "mail_jane@corp.example"}]}})
}

call(server, tool, args) := {"phase": "request", "action": "tools/call", "server": {"name": server}, "tool": {"name": tool}, "arguments": args}

test_card_to_external_server_denied if {
	pii.deny == {"argument /body holds credit_card, which may not be sent to external server zendesk"} with input as call("zendesk", "create_ticket", {"body": "my card is 4111 1111 1111 1111"})
}

test_card_to_internal_server_allowed if {
	count(pii.deny) == 0 with input as call("crm", "update_customer", {"body": "4111 1111 1111 1111"})
}

test_unregistered_server_counts_as_external if {
	count(pii.deny) == 1 with input as call("pastebin", "paste", {"text": "AKIAIOSFODNN7EXAMPLE"})
}

test_exempt_kind_for_tool if {
	# the e-mail server must receive addresses, but never card numbers
	count(pii.deny) == 0 with input as call("email", "send_email", {"to": "bob@corp.example", "body": "hi"})
	pii.deny == {"argument /body holds credit_card, which may not be sent to external server email"} with input as call("email", "send_email", {"to": "bob@corp.example", "body": "4111111111111111"})
}

test_email_to_external_server_without_exemption_denied if {
	pii.deny == {"argument /q holds email, which may not be sent to external server github"} with input as call("github", "search_code", {"q": "alice@corp.example"})
}

test_nested_arguments_are_scanned if {
	pii.deny == {"argument /items/1/note holds us_ssn, which may not be sent to external server github"} with input as call("github", "create_issue", {"items": [{"note": "ok"}, {"note": "ssn 123-45-6789"}]})
}

test_redact_mode_server if {
	servers := {"notes": {"external": true, "pii_arguments": "redact"}}
	count(pii.deny) == 0 with input as call("notes", "save", {"text": "4111111111111111"}) with data.servers as servers
	pii.argument_redactions == ["/text"] with input as call("notes", "save", {"text": "4111111111111111"}) with data.servers as servers
}

sampled(server) := {
	"phase": "response",
	"action": "sampling/createMessage",
	"server": {"name": server},
	"arguments": {"messages": [], "maxTokens": 100},
	"result": {"role": "assistant", "model": "m", "content": {"type": "text", "text": "Reach Jane at jane@corp.example"}},
}

test_sampling_answer_to_external_server_redacted if {
	pii.result_redactions == [{"path": "/content/text", "pattern": "pii.email"}] with input as sampled("mailer") with data.servers as {"mailer": {"external": true}}
}

test_sampling_answer_to_internal_server_kept if {
	not pii.result_redactions with input as sampled("crm") with data.servers as {"crm": {"external": false}}
}

# The prefilter (one regex over every detector) finds what the detectors find one by one.
test_findings_match_the_detectors_one_by_one if {
	doc := {"a": "mail jane@corp.example", "b": ["nothing here", "key AKIAIOSFODNN7EXAMPLE"], "c": 4}
	kinds := {"email", "aws_access_key", "credit_card"}
	pii.findings(doc, kinds) == {{"path": pointer, "kind": kind} |
		walk(doc, [path, value])
		is_string(value)
		some kind in kinds
		pii.found(kind, value)
		pointer := pii.pointer(path)
	}
	pii.findings(doc, kinds) == {{"path": "/a", "kind": "email"}, {"path": "/b/1", "kind": "aws_access_key"}}
}

# A detector whose regex does not compile breaks the prefilter: the others still find.
test_a_broken_detector_leaves_the_others_working if {
	detectors := object.union(data.pii.detectors, {"broken": {"regex": "(unclosed"}})
	found := pii.findings({"a": "mail jane@corp.example"}, {"broken", "email"}) with data.pii.detectors as detectors
	found == {{"path": "/a", "kind": "email"}}
}

# Every configured detector compiles on its own. A broken one finds nothing, and two broken ones
# could even combine in the prefilter into a valid expression that hides a third: this test is
# where a policy repository's CI catches them.
test_every_configured_detector_compiles if {
	broken := {k |
		some k, d in data.pii.detectors
		not regex.is_valid(d.regex)
	}
	broken == set()
}

# Inline flags stay in their detector's group: (?i) of the e-mail detector does not make the
# upper-case-only AWS key detector match lower case.
test_prefilter_scopes_inline_flags if {
	pii.any_detector(["email", "aws_access_key"]) == concat("|", [
		sprintf("(?:%s)", [data.pii.detectors.email.regex]),
		sprintf("(?:%s)", [data.pii.detectors.aws_access_key.regex]),
	])
	not regex.match(pii.any_detector(["aws_access_key"]), "key akiaiosfodnn7example")
}

# An anchored detector is never judged on the joined texts, where ^ no longer starts each one.
test_anchored_detectors_look_at_each_string if {
	detectors := {"anchored": {"regex": "^secret"}}
	found := pii.findings({"a": "x", "b": "secret"}, {"anchored"}) with data.pii.detectors as detectors
	found == {{"path": "/b", "kind": "anchored"}}
}

# Word boundaries at the edges of a string hold in the joined texts too.
test_boundaries_at_string_edges if {
	found := pii.findings({"a": "AKIAIOSFODNN7EXAMPLE", "b": "x"}, {"aws_access_key"})
	found == {{"path": "/a", "kind": "aws_access_key"}}
}

# A match across two strings of the joined texts is no finding.
test_no_finding_across_strings if {
	detectors := {"spaced": {"regex": `a\sb`}}
	pii.findings({"x": "a", "y": "b"}, {"spaced"}) with data.pii.detectors as detectors == set()
	pii.findings({"x": "a b"}, {"spaced"}) with data.pii.detectors as detectors == {{"path": "/x", "kind": "spaced"}}
}
