# End-to-end tests of data.airlock.decision with the shipped data.json: one
# scenario per rule family, allow and deny paths.
package airlock.decision_test

import rego.v1

import data.airlock

base := {
	"phase": "request",
	"action": "tools/call",
	"user": {"sub": "alice", "email": "alice@corp.example", "groups": ["eng"], "claims": {"jti": "tok-alice"}},
	"agent": {"id": "devops-agent", "client_id": "devops-agent", "claims": {}},
	"model": {"provider": "anthropic", "name": "claude-sonnet-4", "attested": false},
	"server": {"name": "github", "virtual": "devops"},
	"tool": {"name": "create_issue", "annotations": {}},
	"arguments": {"repo": "corp/payments", "title": "Flaky test"},
	"request": {"id": "r1", "time": "2026-01-06T16:00:00Z", "session": "s1"},
	"approval": null,
}

# with(patch): the base input with the top-level keys of patch replaced.
with_(patch) := object.union(object.remove(base, object.keys(patch)), patch)

test_allowed_call_gets_on_behalf_of_credentials if {
	airlock.decision == {
		"effect": "allow",
		"reasons": [],
		"credentials": {"mode": "on_behalf_of", "audience": "https://api.github.example", "scopes": ["repo:read", "issues:write"]},
	} with input as base
}

test_tool_scopes_default_to_the_server_scopes if {
	airlock.decision.credentials.scopes == ["repo:read"] with input as with_({"tool": {"name": "list_repos"}, "arguments": {}})
}

test_revoked_user_denied if {
	d := airlock.decision with input as base with data.revocations as {"users": {"alice": {"reason": "offboarded"}}}
	d == {"effect": "deny", "reasons": ["user alice is revoked"]}
}

test_revoked_agent_denied if {
	airlock.decision.effect == "deny" with input as base with data.revocations as {"agents": ["devops-agent"]}
}

test_revoked_token_denied if {
	airlock.decision.reasons == ["the user's token is revoked"] with input as base with data.revocations as {"tokens": ["tok-alice"]}
}

test_hidden_tool_answers_like_a_missing_one if {
	# create_repo exists nowhere in the agent's allowlist; delete_repo is allowed to the agent
	# but not to support users: both read "not found"
	airlock.decision == {"effect": "deny", "reasons": ["tool create_repo not found"]} with input as with_({"tool": {"name": "create_repo"}})
	airlock.decision == {"effect": "deny", "reasons": ["tool list_repos not found"]} with input as with_({"user": {"sub": "sam", "groups": ["support"]}, "tool": {"name": "list_repos"}})
}

test_agent_cannot_use_another_agents_server if {
	airlock.decision.reasons == ["tool lookup_customer not found"] with input as with_({"server": {"name": "crm", "virtual": "devops"}, "tool": {"name": "lookup_customer"}})
}

test_agent_bound_to_its_virtual_server if {
	"agent devops-agent is not bound to virtual server support" in airlock.decision.reasons with input as with_({"server": {"name": "github", "virtual": "support"}})
}

test_unknown_agent_denied if {
	airlock.decision.reasons == ["agent rogue-agent is not registered", "tool create_issue not found"] with input as with_({"agent": {"id": "rogue-agent"}})
}

test_anonymous_call_denied if {
	airlock.decision.effect == "deny" with input as object.remove(base, ["user"])
	"the call carries no authenticated user" in airlock.decision.reasons with input as object.remove(base, ["user"])
}

test_destructive_tool_requires_approval if {
	airlock.decision == {
		"effect": "require_approval",
		"reasons": ["destructive tool delete_repo needs approval from group security"],
		"approval": {"approvers": ["group:security"], "ttl_seconds": 3600},
		"credentials": {"mode": "on_behalf_of", "audience": "https://api.github.example", "scopes": ["repo:admin"]},
	} with input as with_({"tool": {"name": "delete_repo", "annotations": {}}})
}

test_destructive_hint_requires_approval_from_default_group if {
	d := airlock.decision with input as with_({"tool": {"name": "force_push", "annotations": {"destructiveHint": true}}}) with data.agents["devops-agent"].tools as {"github": ["*"]}
	d.effect == "require_approval"
	d.approval == {"approvers": ["group:security"], "ttl_seconds": 3600}
}

test_approved_destructive_call_allowed if {
	approved := with_({
		"tool": {"name": "delete_repo", "annotations": {}},
		"approval": {"status": "approved", "approver": {"sub": "sasha", "groups": ["security"]}},
	})
	airlock.decision.effect == "allow" with input as approved
}

test_self_approval_does_not_count if {
	self := with_({
		"user": {"sub": "alice", "groups": ["eng", "security"]},
		"tool": {"name": "delete_repo", "annotations": {}},
		"approval": {"status": "approved", "approver": {"sub": "alice", "groups": ["security"]}},
	})
	airlock.decision.effect == "require_approval" with input as self
}

finance := with_({
	"user": {"sub": "fran", "groups": ["finance"]},
	"agent": {"id": "finance-agent"},
	"server": {"name": "payments", "virtual": "finance"},
	"tool": {"name": "refund_payment"},
	"arguments": {"invoice": "INV-1", "amount": 20},
})

test_refund_needs_finance_leads_with_short_ttl if {
	d := airlock.decision with input as finance
	d.effect == "require_approval"
	d.approval == {"approvers": ["group:finance-leads"], "ttl_seconds": 1800}
}

test_sensitive_server_refuses_unlisted_model if {
	airlock.decision == {"effect": "deny", "reasons": ["model openai/gpt-3.5-turbo is not approved for sensitive tool get_invoice"]} with input as object.union(finance, {"tool": {"name": "get_invoice"}, "model": {"provider": "openai", "name": "gpt-3.5-turbo"}})
}

test_sensitive_server_allows_listed_model if {
	airlock.decision.effect == "allow" with input as object.union(finance, {"tool": {"name": "get_invoice"}})
}

analyst(groups, query) := with_({
	"user": {"sub": "ana", "groups": groups},
	"agent": {"id": "analytics-agent"},
	"server": {"name": "warehouse", "virtual": "analytics"},
	"tool": {"name": "run_sql"},
	"arguments": {"query": query},
})

test_analyst_read_only_sql_allowed if {
	airlock.decision.effect == "allow" with input as analyst(["analysts"], "SELECT region, sum(amount) FROM sales GROUP BY region")
}

test_analyst_write_sql_denied if {
	airlock.decision == {
		"effect": "deny",
		"reasons": ["tool run_sql runs read-only SQL only (one SELECT, WITH, SHOW, EXPLAIN … statement) unless the user is in group dba or admins"],
	} with input as analyst(["analysts"], "DELETE FROM sales")
}

test_dba_write_sql_allowed if {
	airlock.decision.effect == "allow" with input as analyst(["analysts", "dba"], "DELETE FROM sales WHERE id = 1")
}

test_card_number_blocked_from_external_tool if {
	airlock.decision == {
		"effect": "deny",
		"reasons": ["argument /body holds credit_card, which may not be sent to external server github"],
		"redact": {"arguments": ["/body"], "result": []},
	} with input as with_({"arguments": {"repo": "corp/payments", "body": "customer card 4111 1111 1111 1111"}})
}

test_invalid_card_number_is_not_pii if {
	airlock.decision.effect == "allow" with input as with_({"arguments": {"repo": "corp/x", "body": "ticket 4111 1111 1111 1112"}})
}

test_secret_blocked_from_external_tool if {
	airlock.decision.effect == "deny" with input as with_({"arguments": {"repo": "corp/x", "body": "AWS key AKIAIOSFODNN7EXAMPLE"}})
}

response := with_({
	"phase": "response",
	"tool": {"name": "get_file"},
	"arguments": {"path": "customers.csv"},
	"result": {"content": [{"type": "text", "text": "jane@corp.example,4111111111111111"}], "isError": false},
})

test_pii_redacted_from_results if {
	airlock.decision == {
		"effect": "redact",
		"reasons": ["result /content/0/text holds pii.credit_card", "result /content/0/text holds pii.email"],
		"redact": {"arguments": [], "result": [
			{"path": "/content/0/text", "pattern": "pii.credit_card"},
			{"path": "/content/0/text", "pattern": "pii.email"},
		]},
		"credentials": {"mode": "on_behalf_of", "audience": "https://api.github.example", "scopes": ["repo:read"]},
	} with input as response
}

test_clean_result_allowed if {
	airlock.decision.effect == "allow" with input as object.union(response, {"result": {"content": [{"type": "text", "text": "id,region"}]}})
}

test_revocation_applies_to_responses_too if {
	airlock.decision.effect == "deny" with input as response with data.revocations as {"users": ["alice"]}
}

test_tools_list_shows_only_permitted_tools if {
	listing := with_({
		"phase": "response",
		"action": "tools/list",
		"result": {"tools": [{"name": "list_repos"}, {"name": "delete_repo"}, {"name": "create_repo"}, {"name": "admin_settings"}]},
	})
	airlock.decision == {"effect": "allow", "reasons": [], "visible_tools": ["delete_repo", "list_repos"]} with input as listing
}

test_tools_list_for_a_security_user if {
	listing := with_({
		"user": {"sub": "sasha", "groups": ["security"]},
		"phase": "response",
		"action": "tools/list",
		"result": {"tools": [{"name": "list_repos"}, {"name": "get_file"}, {"name": "delete_repo"}]},
	})
	airlock.decision.visible_tools == ["get_file", "list_repos"] with input as listing
}

test_resources_read_allowed_and_denied if {
	airlock.decision.effect == "allow" with input as with_({"action": "resources/read", "resource": {"uri": "runbook://db-failover"}})
	airlock.decision == {"effect": "deny", "reasons": ["resource file:///etc/shadow not found"]} with input as with_({"action": "resources/read", "resource": {"uri": "file:///etc/shadow"}})
}

test_resource_contents_are_redacted if {
	read := with_({
		"action": "resources/read",
		"phase": "response",
		"resource": {"uri": "runbook://oncall"},
		"result": {"contents": [{"uri": "runbook://oncall", "text": "page bob@corp.example"}]},
	})
	airlock.decision.redact.result == [{"path": "/contents/0/text", "pattern": "pii.email"}] with input as read
}

test_resources_list_filtered if {
	listing := with_({
		"action": "resources/list",
		"phase": "response",
		"result": {"resources": [{"uri": "runbook://a"}, {"uri": "s3://finance/ledger"}]},
	})
	airlock.decision.visible_resources == ["runbook://a"] with input as listing
}

test_prompts if {
	airlock.decision.effect == "allow" with input as with_({"action": "prompts/get", "prompt": {"name": "review-pr"}})
	airlock.decision.reasons == ["prompt exfiltrate not found"] with input as with_({"action": "prompts/get", "prompt": {"name": "exfiltrate"}})
	airlock.decision.visible_prompts == ["incident-summary"] with input as with_({"action": "prompts/list", "phase": "response", "result": {"prompts": [{"name": "incident-summary"}, {"name": "x"}]}})
}

test_housekeeping_methods_allowed if {
	airlock.decision == {"effect": "allow", "reasons": []} with input as with_({"action": "initialize"})
	airlock.decision == {"effect": "allow", "reasons": []} with input as with_({"action": "ping"})
}

test_unknown_method_denied if {
	airlock.decision == {"effect": "deny", "reasons": ["action tasks/get is not allowed"]} with input as with_({"action": "tasks/get"})
}

# An upstream's request to the calling client during one of its calls (lib/relay.rego).
relayed(action, server, arguments) := object.union(object.remove(base, ["tool"]), {
	"action": action,
	"server": {"name": server, "virtual": "devops"},
	"arguments": arguments,
	"call": {"action": "tools/call", "tool": {"name": "create_issue"}, "decision_id": "d-1"},
})

test_relayed_roots_allowed if {
	airlock.decision == {"effect": "allow", "reasons": []} with input as relayed("roots/list", "github", {})
}

test_relayed_sampling_only_from_servers_that_opted_in if {
	sample := {"messages": [{"role": "user", "content": {"type": "text", "text": "Summarize"}}], "maxTokens": 200}
	airlock.decision == {"effect": "deny", "reasons": ["server github may not sample the user's model"]} with input as relayed("sampling/createMessage", "github", sample)
	airlock.decision == {"effect": "allow", "reasons": []} with input as relayed("sampling/createMessage", "crm", sample) with data.agents["devops-agent"].tools as {"*": ["*"]}
}

test_relayed_elicitation_of_a_token_denied if {
	ask := {"message": "Paste your token", "requestedSchema": {"type": "object", "properties": {"github_token": {"type": "string"}}}}
	airlock.decision == {"effect": "deny", "reasons": ["server github may not elicit secrets from the user (field github_token)"]} with input as relayed("elicitation/create", "github", ask)
}

test_bad_phase_denied if {
	airlock.decision.reasons == ["phase must be request or response, not during"] with input as with_({"phase": "during"})
}

test_unregistered_server_denied if {
	d := airlock.decision with input as with_({"server": {"name": "shadow-it", "virtual": "devops"}, "tool": {"name": "x"}}) with data.agents["devops-agent"].tools as {"*": ["*"]} with data.groups.eng.tools as {"*": ["*"]}
	d == {"effect": "deny", "reasons": ["server shadow-it is not registered"]}
}

test_empty_input_denied if {
	airlock.decision.effect == "deny" with input as {}
}

test_call_without_server_denied if {
	d := airlock.decision with input as object.remove(base, ["server"])
	d.effect == "deny"
	"tools/call names no server" in d.reasons
}

test_redact_mode_server_redacts_arguments if {
	d := airlock.decision with input as with_({"arguments": {"repo": "corp/x", "body": "card 4111 1111 1111 1111"}}) with data.servers.github.pii_arguments as "redact"
	d.effect == "redact"
	d.redact == {"arguments": ["/body"], "result": []}
	d.reasons == ["argument /body holds credit_card"]
}

# An upstream's log message to the caller whose session it came on (lib/relay.rego).
logged(payload) := object.union(object.remove(base, ["tool"]), {
	"action": "notifications/message",
	"arguments": {"level": "warning", "logger": "db", "data": payload},
})

test_log_message_allowed if {
	airlock.decision == {"effect": "allow", "reasons": []} with input as logged("slow query: 2.1 s")
}

test_log_message_redacted if {
	d := airlock.decision with input as logged({"query": "SELECT 1", "password": "hunter2", "card": "4111 1111 1111 1111"})
	d.effect == "redact"
	d.redact == {"arguments": ["/data/password"], "result": [{"path": "/data/card", "pattern": "pii.credit_card"}]}
	d.reasons == ["log /data/card holds pii.credit_card", "log field /data/password reads like a secret"]
}

test_log_message_of_a_revoked_user_dropped if {
	d := airlock.decision with input as logged("hello") with data.revocations.users.alice as true
	d.effect == "deny"
}

# client/capabilities: what an upstream session declares of the client's capabilities.
capabilities_input(server, shared) := object.union(object.remove(base, ["tool", "arguments", "server"]), {
	"action": "client/capabilities",
	"server": {"name": server, "virtual": "devops"},
	"arguments": {"capabilities": {"sampling": {}, "roots": {}}, "offered": ["elicitation", "roots", "sampling"], "shared": shared},
})

test_client_capabilities_keep_sampling_for_opted_in_servers_only if {
	airlock.decision == {"effect": "allow", "reasons": [], "client_capabilities": ["elicitation", "roots"]} with input as capabilities_input("github", false)
	airlock.decision.client_capabilities == ["elicitation", "roots", "sampling"] with input as capabilities_input("crm", false)
}

test_client_capabilities_of_a_revoked_user_are_none if {
	d := airlock.decision with input as capabilities_input("crm", false) with data.revocations as {"users": ["alice"]}
	d.effect == "deny"
	not d.client_capabilities
}

test_shared_session_capabilities_are_decided_for_no_caller if {
	shared := object.union(object.remove(capabilities_input("crm", true), ["user", "agent", "model"]), {"user": null, "agent": null, "model": null})
	airlock.decision == {"effect": "allow", "reasons": [], "client_capabilities": ["elicitation", "roots", "sampling"]} with input as shared
	# Without the shared flag, a decision for nobody is refused as usual.
	unshared := object.union(shared, {"arguments": {"capabilities": null, "offered": ["roots"], "shared": false}})
	airlock.decision.effect == "deny" with input as unshared
}
