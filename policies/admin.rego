# Who may write live data through the Data API (PUT/PATCH/DELETE /v1/data/…):
# the gateway asks `airlock/admin` before applying a write. Writers are listed
# by group in data.admin.writers with the top-level paths they may change
# (e.g. the security team manages data.revocations).
#
# Input: {"principal": {"sub", "groups"}, "method": "PUT", "path": "/revocations/users/mallory"}
# (path may also be an array of segments). Output: {"allow": bool, "reasons": [...]}.
package airlock

import rego.v1

admin_methods := {"PUT", "PATCH", "DELETE"}

admin_principal := input.principal.sub if {
	is_string(input.principal.sub)
	input.principal.sub != ""
}

admin_path := [s | some s in split(trim_prefix(input.path, "/"), "/")] if is_string(input.path)

admin_path := input.path if is_array(input.path)

admin_root := admin_path[0]

admin_grants contains root if {
	some writer in data.admin.writers
	writer.group in input.principal.groups
	some root in writer.paths
}

admin_denials contains "the request carries no authenticated principal" if not admin_principal

admin_denials contains sprintf("principal %s is revoked", [admin_principal]) if {
	admin_principal in data.revocations.users
}

admin_denials contains sprintf("principal %s is revoked", [admin_principal]) if {
	is_object(data.revocations.users)
	_ = data.revocations.users[admin_principal]
}

admin_denials contains sprintf("method %v is not a data write", [object.get(input, "method", null)]) if {
	not input.method in admin_methods
}

admin_denials contains "the write names no data path" if not admin_root

admin_denials contains "the write names no data path" if admin_root == ""

admin_denials contains sprintf("principal %s may not write data.%s", [admin_principal, admin_root]) if {
	admin_principal
	is_string(admin_root)
	admin_root != ""
	not admin_root in admin_grants
}

# METADATA
# title: Live data writes
# description: Whether input.principal may apply the Data API write in input (method, path).
# entrypoint: true
admin := {"allow": count(admin_denials) == 0, "reasons": sort([r | some r in admin_denials])}
