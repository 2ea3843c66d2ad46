package airlock.admin_test

import rego.v1

import data.airlock

write(sub, groups, method, path) := {"principal": {"sub": sub, "groups": groups}, "method": method, "path": path}

test_security_may_revoke_a_user if {
	airlock.admin == {"allow": true, "reasons": []} with input as write("sasha", ["security"], "PUT", "/revocations/users/mallory")
}

test_path_as_segments if {
	airlock.admin.allow with input as write("sasha", ["security"], "DELETE", ["revocations", "users", "mallory"])
}

test_patch_allowed if {
	airlock.admin.allow with input as write("sasha", ["security"], "PATCH", "/revocations")
}

test_security_may_not_write_other_roots if {
	airlock.admin == {"allow": false, "reasons": ["principal sasha may not write data.overrides"]} with input as write("sasha", ["security"], "PUT", "/overrides/x")
}

test_admins_may_write_overrides if {
	airlock.admin.allow with input as write("root", ["admins"], "PUT", "/overrides/x")
}

test_engineer_may_not_write if {
	airlock.admin == {"allow": false, "reasons": ["principal alice may not write data.revocations"]} with input as write("alice", ["eng"], "PUT", "/revocations/users/bob")
}

test_reads_are_not_writes if {
	airlock.admin.reasons == ["method GET is not a data write"] with input as write("sasha", ["security"], "GET", "/revocations")
}

test_anonymous_write_denied if {
	d := airlock.admin with input as {"method": "PUT", "path": "/revocations/users/x"}
	d.allow == false
	"the request carries no authenticated principal" in d.reasons
}

test_revoked_admin_denied if {
	airlock.admin.reasons == ["principal sasha is revoked"] with input as write("sasha", ["security"], "PUT", "/revocations/users/x") with data.revocations as {"users": ["sasha"]}
	airlock.admin.allow == false with input as write("sasha", ["security"], "PUT", "/revocations/users/x") with data.revocations as {"users": {"sasha": {}}}
}

test_root_path_denied if {
	airlock.admin.reasons == ["the write names no data path"] with input as write("root", ["admins"], "PUT", "/")
}

test_missing_path_denied if {
	airlock.admin.reasons == ["the write names no data path"] with input as {"principal": {"sub": "root", "groups": ["admins"]}, "method": "PUT"}
}
