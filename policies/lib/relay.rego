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
package airlock.relay

import rego.v1

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
