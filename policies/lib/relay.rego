# METADATA
# title: Relayed server→client requests
# description: |
#   What an upstream may ask of the calling client during a call: the gateway
#   relays sampling/createMessage, elicitation/create and roots/list only when
#   this policy allows (input.arguments holds the upstream's request params,
#   input.call the tools/call it belongs to).
#
#   Defaults, and why:
#   - roots/list: allowed. Roots name the directories the user already shares
#     with the client; they are what file-aware servers need to be useful.
#   - elicitation/create: allowed for ordinary fields, denied when the requested
#     schema asks for a secret (a password, token, API key, one-time code, card
#     or social security number: by property name, title or a `password`
#     format). Descriptions are not read: they often say what not to enter. A server that needs a credential must get it through
#     Airlock's token exchange, never by asking the user to type it in.
#     URL-mode elicitation sends the user to a page of the server's choosing:
#     denied unless data.servers[s].url_elicitation is true.
#   - sampling/createMessage: denied unless data.servers[s].sampling is true.
#     Sampling spends the user's model (and quota) on text the server chose, and
#     lets the server see the model's answer: an opt-in per trusted server, with
#     at most data.servers[s].sampling_max_tokens tokens when that is set. The
#     model's answer to an external server has its PII redacted (lib/pii.rego).
#   - Outside a call (no input.call) nothing is relayed.
#   - notifications/message (an upstream's log message to the caller whose
#     session it came on; input.arguments is {level, logger?, data}): relayed,
#     with what a log must not carry masked first: the fields of a structured
#     `data` whose names read like secrets (password, token, api_key, …) are
#     replaced wholesale (redact.arguments), and personal data or secrets the
#     detectors of lib/pii.rego find in its strings are masked as in results
#     (redact.result). data.servers[s].relay_logs == false drops them all.
#   - client/capabilities (what an upstream session declares of the client's
#     capabilities, decided when it opens; input.arguments.offered names what
#     Airlock can relay of what the client declared): roots and elicitation,
#     whose requests are decided one by one above; sampling only to servers
#     that opted in, so the others never see it (nor offer tools that need it).
#     A shared session (input.arguments.shared) is decided for no caller:
#     these rules read only the server, so every caller gets the same answer.
package airlock.relay

import rego.v1

import data.airlock.pii

actions := {"sampling/createMessage", "elicitation/create", "roots/list"}

relayed if input.action in actions

server := data.servers[input.server.name]

# Words that mark a field asking for a secret (matched case-insensitively).
secret_pattern := `(?i)(pass(word|phrase|wd)?|secret|token|api[ _-]?key|credential|private[ _-]?key|otp|one[ _-]?time|2fa|mfa|pin[ _-]?code|\bpin\b|cvv|cvc|card[ _-]?number|ssn|social[ _-]?security)`

# The property names of a form elicitation's requested schema that ask for secrets.
secret_fields contains name if {
	input.action == "elicitation/create"
	some name, prop in object.get(input.arguments, ["requestedSchema", "properties"], {})
	asks_secret(name, prop)
}

asks_secret(name, _) if regex.match(secret_pattern, name)

asks_secret(_, prop) if regex.match(secret_pattern, object.get(prop, "title", ""))

asks_secret(_, prop) if object.get(prop, "format", "") == "password"

elicitation_mode := object.get(input.arguments, "mode", "form")

deny contains sprintf("%s is relayed only during a call", [input.action]) if {
	relayed
	not input.call
}

deny contains sprintf("server %s may not elicit secrets from the user (field %s)", [input.server.name, name]) if {
	input.phase == "request"
	some name in secret_fields
}

deny contains sprintf("server %s may not send the user to a URL (url-mode elicitation)", [input.server.name]) if {
	input.phase == "request"
	input.action == "elicitation/create"
	elicitation_mode == "url"
	not server.url_elicitation == true
}

deny contains sprintf("server %s may not sample the user's model", [input.server.name]) if {
	input.action == "sampling/createMessage"
	not server.sampling == true
}

deny contains sprintf("server %s may sample at most %v tokens, not %v", [input.server.name, server.sampling_max_tokens, input.arguments.maxTokens]) if {
	input.phase == "request"
	input.action == "sampling/createMessage"
	is_number(server.sampling_max_tokens)
	input.arguments.maxTokens > server.sampling_max_tokens
}

# ---------------------------------------------------------------- log messages

log_message if input.action == "notifications/message"

log_data := object.get(input.arguments, "data", null)

# Pointers (into input.arguments) of the structured log fields named like secrets, sorted.
log_argument_redactions := sort([sprintf("/data/%s", [pii.escape_segment(key)]) |
	some key, _ in log_data
	regex.match(secret_pattern, key)
]) if {
	log_message
	is_object(log_data)
}

log_argument_redactions := [] if {
	log_message
	not is_object(log_data)
}

# Personal data and secrets found in the log's strings, masked as in results (outside the fields
# masked wholesale above).
log_result_redactions := sort([{"path": concat("", ["/data", f.path]), "pattern": concat(".", ["pii", f.kind])} |
	some f in pii.findings(log_data, pii.result_kinds)
	not masked_field(f.path)
]) if log_message

masked_field(path) if {
	some p in log_argument_redactions
	startswith(concat("", ["/data", path, "/"]), concat("", [p, "/"]))
}

redact_reasons contains sprintf("log field %s reads like a secret", [p]) if some p in log_argument_redactions

redact_reasons contains sprintf("log %s holds %s", [r.path, r.pattern]) if some r in log_result_redactions

deny contains sprintf("server %s does not relay log messages", [input.server.name]) if {
	log_message
	server.relay_logs == false
}

# ---------------------------------------------------------------- client capabilities

capabilities_decision if input.action == "client/capabilities"

shared_capabilities if {
	capabilities_decision
	input.arguments.shared == true
}

allowed_capabilities contains c if {
	capabilities_decision
	some c in input.arguments.offered
	capability_allowed(c)
}

capability_allowed(c) if c in {"roots", "elicitation"}

capability_allowed("sampling") if server.sampling == true
