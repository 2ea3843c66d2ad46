# Who may approve a parked call: the gateway asks `airlock/approve` when
# someone answers an approval request. The approver must be an identified,
# unrevoked user matching one of the approvers the decision named
# ("group:security" or "user:bob"), must not be the user who made the call,
# and must answer before the approval expires.
#
# Input: {"approver": {"sub", "groups"}, "approval": {"approvers": [...], "expires_at"?},
#         "call": <the parked call's decision input>, "time"?: RFC 3339}
# Output: {"allow": bool, "reasons": [...]}.
package airlock

import rego.v1

approver_sub := input.approver.sub if {
	is_string(input.approver.sub)
	input.approver.sub != ""
}

approver_qualifies if {
	some entry in input.approval.approvers
	startswith(entry, "group:")
	trim_prefix(entry, "group:") in input.approver.groups
}

approver_qualifies if {
	some entry in input.approval.approvers
	entry == concat(":", ["user", approver_sub])
}

approve_denials contains "the answer carries no authenticated approver" if not approver_sub

approve_denials contains sprintf("approver %s is revoked", [approver_sub]) if approver_sub in data.revocations.users

approve_denials contains sprintf("approver %s is revoked", [approver_sub]) if {
	is_object(data.revocations.users)
	_ = data.revocations.users[approver_sub]
}

approve_denials contains "the requester may not approve their own call" if {
	approver_sub == input.call.user.sub
}

approve_denials contains "the parked call has no requester" if not input.call.user.sub

approve_denials contains sprintf("approver %s is not among %s", [approver_sub, concat(", ", input.approval.approvers)]) if {
	approver_sub
	not approver_qualifies
}

approve_denials contains "the approval names no approvers" if not is_array(input.approval.approvers)

approve_denials contains "the approval has expired" if {
	time.parse_rfc3339_ns(input.time) >= time.parse_rfc3339_ns(input.approval.expires_at)
}

# METADATA
# title: Approvals
# description: Whether input.approver may approve the parked call in input.call.
# entrypoint: true
approve := {"allow": count(approve_denials) == 0, "reasons": sort([r | some r in approve_denials])}
