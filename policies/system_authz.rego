# Who may use Airlock's API listener (like OPA's system.authz): `airlock serve` asks
# `airlock/system/authz` before every request to the Data API, /v1/decisions, AuthZEN,
# forward-auth and /metrics (health endpoints stay open). Callers are already
# authenticated (a token verified by the identity part, or a static API client
# credential); this policy decides what each may do. Groups come from data.api.
#
# Input: {"method": "POST", "path": "/v1/data/airlock/decision",
#         "caller": {"sub", "groups", "roles", "via"}}
# Output: {"allow": bool, "reasons": [...]}. Anything but allow: the request gets 403.
package airlock.system

import rego.v1

caller_sub := input.caller.sub if {
	is_string(input.caller.sub)
	input.caller.sub != ""
}

caller_groups := {g | some g in input.caller.groups}

revoked if caller_sub in data.revocations.users

revoked if {
	is_object(data.revocations.users)
	_ = data.revocations.users[caller_sub]
}

member_of(groups) if {
	some g in groups
	g in caller_groups
}

decision_paths := {"/v1/data/airlock/decision", "/v1/decisions"}

asks_decision if {
	input.method in {"POST", "GET"}
	input.path in decision_paths
}

asks_decision if {
	input.method == "POST"
	startswith(input.path, "/access/v1/")
}

forward_auth if input.path == "/v1/authz/http"

forward_auth if startswith(input.path, "/v1/authz/http/")

data_api if input.path == "/v1/data"

data_api if startswith(input.path, "/v1/data/")

writes_data if {
	input.method in {"PUT", "PATCH", "DELETE"}
	startswith(input.path, "/v1/data/")
}

# Groups that the admin entrypoint may let write some data root (it decides the path).
writer_groups contains w.group if some w in data.admin.writers

grants contains "gateways and proxies may ask decisions" if {
	asks_decision
	member_of(data.api.decision_groups)
}

# Forward-auth carries the end user's own token: the endpoint decides per user.
grants contains "any authenticated caller may use forward-auth" if {
	forward_auth
	caller_sub
}

grants contains "admins may use the whole API" if member_of(data.api.admin_groups)

grants contains "data writers may ask for writes (airlock/admin decides each path)" if {
	writes_data
	member_of(writer_groups)
}

grants contains "monitoring may read metrics" if {
	input.method == "GET"
	input.path == "/metrics"
	member_of(data.api.metrics_groups)
}

denials contains "the request carries no authenticated caller" if not caller_sub

denials contains sprintf("caller %s is revoked", [caller_sub]) if revoked

denials contains sprintf("caller %s may not %v %v", [caller_sub, input.method, input.path]) if {
	caller_sub
	count(grants) == 0
}

# METADATA
# title: API access
# description: Whether input.caller may make the API request input.method input.path.
# entrypoint: true
authz := {"allow": true, "reasons": sort([r | some r in grants])} if {
	count(denials) == 0
	count(grants) > 0
} else := {"allow": false, "reasons": sort([r | some r in denials])}
