package airlock.relay_test

import rego.v1

import data.airlock.relay

servers := {
	"trusted": {"sampling": true, "sampling_max_tokens": 500, "url_elicitation": true},
	"plain": {},
}

during := {"action": "tools/call", "tool": {"name": "summarize"}, "decision_id": "d-1"}

ask(action, server, arguments) := {"phase": "request", "action": action, "server": {"name": server}, "arguments": arguments, "call": during}

form(properties) := {"message": "Tell me", "requestedSchema": {"type": "object", "properties": properties}}

test_roots_allowed if {
	count(relay.deny) == 0 with input as ask("roots/list", "plain", {}) with data.servers as servers
}

test_nothing_relayed_outside_a_call if {
	relay.deny == {"roots/list is relayed only during a call"} with input as object.remove(ask("roots/list", "plain", {}), ["call"]) with data.servers as servers
}

test_ordinary_fields_may_be_elicited if {
	count(relay.deny) == 0 with input as ask("elicitation/create", "plain", form({"name": {"type": "string", "title": "Your name"}, "email": {"type": "string", "format": "email"}})) with data.servers as servers
}

test_secrets_may_not_be_elicited if {
	relay.deny == {"server plain may not elicit secrets from the user (field password)"} with input as ask("elicitation/create", "plain", form({"name": {"type": "string"}, "password": {"type": "string"}})) with data.servers as servers
	relay.deny == {"server trusted may not elicit secrets from the user (field code)"} with input as ask("elicitation/create", "trusted", form({"code": {"type": "string", "title": "One-time code"}})) with data.servers as servers
	relay.deny == {"server plain may not elicit secrets from the user (field k)"} with input as ask("elicitation/create", "plain", form({"k": {"type": "string", "title": "GitHub API key"}})) with data.servers as servers
	relay.deny == {"server plain may not elicit secrets from the user (field x)"} with input as ask("elicitation/create", "plain", form({"x": {"type": "string", "format": "password"}})) with data.servers as servers
}

test_words_that_only_look_alike_are_not_secrets if {
	count(relay.deny) == 0 with input as ask("elicitation/create", "plain", form({"pinned": {"type": "boolean", "title": "Keep it pinned"}, "spinner": {"type": "string"}})) with data.servers as servers
}

test_descriptions_are_not_read if {
	count(relay.deny) == 0 with input as ask("elicitation/create", "plain", form({"n": {"type": "integer", "description": "no PIN or password here, please"}})) with data.servers as servers
}

test_url_elicitation_only_for_servers_that_may if {
	url := {"mode": "url", "message": "Sign in", "url": "https://example.com/login", "elicitationId": "e-1"}
	relay.deny == {"server plain may not send the user to a URL (url-mode elicitation)"} with input as ask("elicitation/create", "plain", url) with data.servers as servers
	count(relay.deny) == 0 with input as ask("elicitation/create", "trusted", url) with data.servers as servers
}

test_sampling_is_opt_in_per_server if {
	messages := {"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 100}
	relay.deny == {"server plain may not sample the user's model"} with input as ask("sampling/createMessage", "plain", messages) with data.servers as servers
	relay.deny == {"server unknown may not sample the user's model"} with input as ask("sampling/createMessage", "unknown", messages) with data.servers as servers
	count(relay.deny) == 0 with input as ask("sampling/createMessage", "trusted", messages) with data.servers as servers
}

test_sampling_bounded_in_tokens if {
	big := {"messages": [], "maxTokens": 4000}
	relay.deny == {"server trusted may sample at most 500 tokens, not 4000"} with input as ask("sampling/createMessage", "trusted", big) with data.servers as servers
}

test_response_phase_keeps_the_server_rule if {
	answer := object.union(ask("sampling/createMessage", "plain", {"messages": [], "maxTokens": 10}), {"phase": "response", "result": {"role": "assistant"}})
	relay.deny == {"server plain may not sample the user's model"} with input as answer with data.servers as servers
}

log(server, payload) := {"phase": "request", "action": "notifications/message", "server": {"name": server}, "arguments": {"level": "info", "logger": "db", "data": payload}}

test_plain_log_messages_relayed_unchanged if {
	count(relay.deny) == 0 with input as log("plain", "connected to the replica") with data.servers as servers
	relay.log_argument_redactions == [] with input as log("plain", "connected to the replica") with data.servers as servers
	relay.log_result_redactions == [] with input as log("plain", {"rows": 3}) with data.servers as servers
}

test_log_fields_named_like_secrets_masked if {
	relay.log_argument_redactions == ["/data/api_key", "/data/db~1password"] with input as log("plain", {"user": "ada", "api_key": "k-1", "db/password": "x", "pinned": true}) with data.servers as servers
	relay.redact_reasons == {"log field /data/api_key reads like a secret", "log field /data/db~1password reads like a secret"} with input as log("plain", {"api_key": "k-1", "db/password": "x"}) with data.servers as servers
}

test_personal_data_in_log_strings_masked if {
	relay.log_result_redactions == [{"path": "/data", "pattern": "pii.credit_card"}] with input as log("plain", "charged 4111 1111 1111 1111") with data.servers as servers
	relay.log_result_redactions == [{"path": "/data/note", "pattern": "pii.email"}] with input as log("plain", {"note": "mail ada@corp.example"}) with data.servers as servers
}

test_a_field_masked_wholesale_is_not_also_pattern_masked if {
	relay.log_result_redactions == [] with input as log("plain", {"token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}) with data.servers as servers
}

test_servers_may_have_their_logs_dropped if {
	relay.deny == {"server quiet does not relay log messages"} with input as log("quiet", "hello") with data.servers as {"quiet": {"relay_logs": false}}
}

capabilities(server, offered, shared) := {"phase": "request", "action": "client/capabilities", "server": {"name": server}, "arguments": {"capabilities": null, "offered": offered, "shared": shared}}

test_sampling_capability_only_for_servers_that_opted_in if {
	all := ["elicitation", "roots", "sampling"]
	relay.allowed_capabilities == {"elicitation", "roots"} with input as capabilities("plain", all, false) with data.servers as servers
	relay.allowed_capabilities == {"elicitation", "roots", "sampling"} with input as capabilities("trusted", all, false) with data.servers as servers
}

test_capabilities_never_beyond_what_is_offered if {
	relay.allowed_capabilities == {"roots"} with input as capabilities("trusted", ["roots"], false) with data.servers as servers
	count(relay.allowed_capabilities) == 0 with input as capabilities("trusted", [], false) with data.servers as servers
}

test_shared_capabilities_only_when_said_so if {
	relay.shared_capabilities with input as capabilities("plain", [], true)
	not relay.shared_capabilities with input as capabilities("plain", [], false)
}
