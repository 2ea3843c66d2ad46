package airlock.http_test

import rego.v1

import data.airlock

request(sub, groups, method, path) := {
	"proxy": "nginx",
	"method": method,
	"path": path,
	"query": {},
	"host": "app.corp.example",
	"scheme": "https",
	"headers": {},
	"user": {"sub": sub, "iss": "https://idp.corp.example", "groups": groups, "roles": [], "claims": {}},
	"agent": {"id": "portal", "delegation": [], "claims": {}},
	"model": {"attested": false},
}

test_any_user_may_read_the_root if {
	airlock.http == {"allow": true, "reasons": [], "headers": {"X-Airlock-User": "alice"}} with input as request("alice", [], "GET", "/")
}

test_any_user_may_read_below_the_root if {
	airlock.http.allow with input as request("alice", [], "HEAD", "/docs/intro")
}

test_root_is_read_only if {
	airlock.http == {"allow": false, "reasons": ["method POST is not allowed on /docs"], "headers": {}} with input as request("alice", ["eng"], "POST", "/docs")
}

test_admin_paths_need_a_group if {
	airlock.http == {"allow": false, "reasons": ["user alice may not reach /admin/users"], "headers": {}} with input as request("alice", ["eng"], "GET", "/admin/users")
}

test_admins_reach_admin_paths_with_any_method if {
	d := airlock.http with input as request("bob", ["sre"], "DELETE", "/admin/users/7")
	d.allow
	d.headers == {"X-Airlock-User": "bob"}
}

test_the_route_itself_matches if {
	airlock.http.reasons == ["user alice may not reach /admin"] with input as request("alice", ["eng"], "GET", "/admin")
}

test_a_longer_name_is_not_below_a_route if {
	# /administrators is not under /admin: the root route applies.
	airlock.http.allow with input as request("alice", ["eng"], "GET", "/administrators")
}

test_reports_by_group_and_read_only if {
	airlock.http.allow with input as request("ana", ["analysts"], "GET", "/reports/q3")
	airlock.http.reasons == ["user sam may not reach /reports/q3"] with input as request("sam", ["support"], "GET", "/reports/q3")
	airlock.http.reasons == ["method PUT is not allowed on /reports/q3"] with input as request("ana", ["analysts"], "PUT", "/reports/q3")
}

test_revoked_user_denied_everywhere if {
	d := airlock.http with input as request("mallory", ["sre"], "GET", "/") with data.revocations as {"users": ["mallory"]}
	d == {"allow": false, "reasons": ["user mallory is revoked"], "headers": {}}
}

test_revoked_as_object_and_revoked_agent if {
	airlock.http.allow == false with input as request("mallory", [], "GET", "/") with data.revocations as {"users": {"mallory": {"reason": "left"}}}
	airlock.http.reasons == ["agent portal is revoked"] with input as request("alice", [], "GET", "/") with data.revocations as {"agents": ["portal"]}
}

test_no_user_denied if {
	d := airlock.http with input as {"method": "GET", "path": "/"}
	d.allow == false
	d.reasons == ["the request carries no authenticated user"]
	d.headers == {}
}

test_unserved_path_without_a_root_route if {
	d := airlock.http with input as request("alice", ["eng"], "GET", "/x") with data.http.routes as {"/admin": {"groups": ["sre"]}}
	d.reasons == ["/x is not served here"]
}
