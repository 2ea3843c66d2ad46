package airlock.system_authz_test

import rego.v1

import data.airlock.system

req(method, path, sub, groups) := {"method": method, "path": path, "caller": {"sub": sub, "groups": groups, "roles": [], "via": "client"}}

test_proxy_may_ask_data_api_decisions if {
	system.authz.allow with input as req("POST", "/v1/data/airlock/decision", "envoy", ["proxies"])
	system.authz.allow with input as req("GET", "/v1/data/airlock/decision", "envoy", ["proxies"])
}

test_gateway_may_ask_native_and_authzen_decisions if {
	system.authz.allow with input as req("POST", "/v1/decisions", "gw", ["gateways"])
	system.authz.allow with input as req("POST", "/access/v1/evaluation", "gw", ["gateways"])
	system.authz.allow with input as req("POST", "/access/v1/evaluations", "gw", ["gateways"])
}

test_proxy_may_not_read_the_data_tree if {
	system.authz == {"allow": false, "reasons": ["caller envoy may not GET /v1/data"]} with input as req("GET", "/v1/data", "envoy", ["proxies"])
	not system.authz.allow with input as req("GET", "/v1/data/agents", "envoy", ["proxies"])
	not system.authz.allow with input as req("POST", "/v1/data/agents", "envoy", ["proxies"])
	not system.authz.allow with input as req("GET", "/v1/data/", "envoy", ["proxies"])
}

test_proxy_may_not_write_data if {
	not system.authz.allow with input as req("PUT", "/v1/data/revocations/users/x", "envoy", ["proxies"])
}

test_proxy_may_not_read_metrics if {
	not system.authz.allow with input as req("GET", "/metrics", "envoy", ["proxies"])
}

test_admin_may_read_and_write_data if {
	system.authz.allow with input as req("GET", "/v1/data", "root", ["admins"])
	system.authz.allow with input as req("POST", "/v1/data/agents", "root", ["admins"])
	system.authz.allow with input as req("PUT", "/v1/data/overrides/x", "root", ["admins"])
}

test_security_writers_reach_the_admin_policy if {
	system.authz.allow with input as req("PUT", "/v1/data/revocations/users/mallory", "sasha", ["security"])
	not system.authz.allow with input as req("GET", "/v1/data/revocations", "sasha", ["security"])
}

test_monitoring_reads_metrics_only if {
	system.authz.allow with input as req("GET", "/metrics", "prom", ["monitoring"])
	not system.authz.allow with input as req("POST", "/v1/data/airlock/decision", "prom", ["monitoring"])
	not system.authz.allow with input as req("GET", "/v1/data", "prom", ["monitoring"])
}

test_any_authenticated_caller_may_use_forward_auth if {
	system.authz.allow with input as req("GET", "/v1/authz/http", "alice", [])
	system.authz.allow with input as req("POST", "/v1/authz/http/some/original/path", "alice", ["eng"])
	not system.authz.allow with input as req("GET", "/v1/authz/httpx", "alice", [])
}

test_no_group_no_access if {
	system.authz == {"allow": false, "reasons": ["caller alice may not POST /v1/data/airlock/decision"]} with input as req("POST", "/v1/data/airlock/decision", "alice", ["eng"])
}

test_no_caller_no_access if {
	system.authz == {"allow": false, "reasons": ["the request carries no authenticated caller"]} with input as {"method": "GET", "path": "/v1/authz/http"}
}

test_revoked_caller_refused if {
	not system.authz.allow with input as req("GET", "/v1/data", "root", ["admins"]) with data.revocations.users as ["root"]
}

test_allow_carries_reasons if {
	system.authz == {"allow": true, "reasons": ["gateways and proxies may ask decisions"]} with input as req("POST", "/v1/decisions", "gw", ["gateways"])
}
