# Airlock's reference policy: the decision for every MCP request and response.
# The rules live in lib/ (one concern per package); this file combines their
# findings into the decision object the gateway executes. Behaviour is driven
# by data.json (agents, groups, servers, tools, PII detectors, SQL, models,
# approvals) and by data.revocations, written live through the Data API.
package airlock

import rego.v1

import data.airlock.access
import data.airlock.approval
import data.airlock.identity
import data.airlock.models
import data.airlock.pii
import data.airlock.relay
import data.airlock.sql

# MCP methods this policy decides on its merits; data.protocol.always_allowed
# lists the housekeeping methods (initialize, ping, …) that need only an
# identified, unrevoked caller.
handled_actions := {
	"tools/list",
	"tools/call",
	"resources/list",
	"resources/templates/list",
	"resources/read",
	"resources/subscribe",
	"resources/unsubscribe",
	"prompts/list",
	"prompts/get",
	# Requests of an upstream to the calling client during a call (lib/relay.rego).
	"sampling/createMessage",
	"elicitation/create",
	"roots/list",
	# An upstream's log message to the caller whose session it came on (lib/relay.rego).
	"notifications/message",
	# What an upstream session may see of the client's capabilities (lib/relay.rego).
	"client/capabilities",
}

known_action if input.action in handled_actions

known_action if input.action in data.protocol.always_allowed

# ---------------------------------------------------------------- findings

# A shared upstream session's capabilities are decided for no caller in particular (the session
# serves every caller): the checks of who is calling have no one to check (lib/relay.rego).
caller_checked if not relay.shared_capabilities

deny_reasons contains r if {
	caller_checked
	some r in identity.deny
}

deny_reasons contains r if {
	caller_checked
	some r in access.deny
}

deny_reasons contains r if some r in pii.deny

deny_reasons contains r if some r in sql.deny

deny_reasons contains r if some r in models.deny

deny_reasons contains r if some r in relay.deny

deny_reasons contains sprintf("action %v is not allowed", [input.action]) if not known_action

deny_reasons contains sprintf("phase must be request or response, not %v", [object.get(input, "phase", null)]) if {
	not input.phase in {"request", "response"}
}

deny_reasons contains sprintf("server %s is not registered", [input.server.name]) if {
	input.action == "tools/call"
	not data.servers[input.server.name]
}

deny_reasons contains "tools/call names no server" if {
	input.action == "tools/call"
	not is_string(input.server.name)
}

result_redactions := relay.log_result_redactions if relay.log_message

result_redactions := pii.result_redactions if not relay.log_message

result_redactions := [] if {
	not relay.log_message
	not pii.result_redactions
}

argument_redactions := relay.log_argument_redactions if relay.log_message

argument_redactions := pii.argument_redactions if not relay.log_message

argument_redactions := [] if {
	not relay.log_message
	not pii.argument_redactions
}

redact_reasons contains r if some r in pii.redact_reasons

redact_reasons contains r if some r in relay.redact_reasons

# ---------------------------------------------------------------- the decision

effect := "deny" if {
	count(deny_reasons) > 0
} else := "require_approval" if {
	approval.pending
} else := "redact" if {
	count(result_redactions) + count(argument_redactions) > 0
} else := "allow"

reasons := sort([r | some r in deny_reasons]) if effect == "deny"

reasons := sort([r | some r in approval.reasons]) if effect == "require_approval"

reasons := sort([r | some r in redact_reasons]) if effect == "redact"

reasons := [] if effect == "allow"

# On a deny, the arguments holding PII are still named: the gateway keeps
# them masked in the audit trail (nothing is forwarded either way).
redact_part := {"redact": {"arguments": argument_redactions, "result": result_redactions}} if {
	effect == "redact"
} else := {"redact": {"arguments": pii.finding_paths, "result": []}} if {
	effect == "deny"
	count(pii.finding_paths) > 0
} else := {}

approval_part := {"approval": approval.request} if {
	effect == "require_approval"
} else := {}

# The upstream credential: a token exchanged on behalf of the user, for the
# server's audience, with the tool's scopes (data.servers[s].tool_scopes) or the server's.
server_credentials := data.servers[input.server.name].credentials

scopes := data.servers[input.server.name].tool_scopes[input.tool.name]

scopes := server_credentials.scopes if not data.servers[input.server.name].tool_scopes[input.tool.name]

credentials_part := {"credentials": object.union(server_credentials, {"scopes": scopes})} if {
	effect != "deny"
	input.action == "tools/call"
	is_object(server_credentials)
} else := {}

visibility_part := {"visible_tools": sort([t | some t in access.visible_tools])} if {
	effect != "deny"
	input.action == "tools/list"
	input.phase == "response"
} else := {"visible_resources": sort([r | some r in access.visible_resources])} if {
	effect != "deny"
	input.action == "resources/list"
	input.phase == "response"
} else := {"visible_prompts": sort([p | some p in access.visible_prompts])} if {
	effect != "deny"
	input.action == "prompts/list"
	input.phase == "response"
} else := {}

capabilities_part := {"client_capabilities": sort([c | some c in relay.allowed_capabilities])} if {
	effect != "deny"
	relay.capabilities_decision
} else := {}

# METADATA
# title: Decision
# description: |
#   The gateway's entrypoint: {effect, reasons, redact?, approval?, credentials?,
#   visible_tools? | visible_resources? | visible_prompts? | client_capabilities?} for the MCP
#   call in input.
#   Always defined: anything unexpected is a deny.
# entrypoint: true
decision := object.union_n([
	{"effect": effect, "reasons": reasons},
	redact_part,
	approval_part,
	credentials_part,
	visibility_part,
	capabilities_part,
])
