package airlock.approve_test

import rego.v1

import data.airlock

call := {"action": "tools/call", "user": {"sub": "alice", "groups": ["eng", "security"]}, "tool": {"name": "delete_repo"}}

answer(sub, groups, approvers) := {
	"approver": {"sub": sub, "groups": groups},
	"approval": {"approvers": approvers, "expires_at": "2026-01-06T17:00:00Z"},
	"call": call,
	"time": "2026-01-06T16:30:00Z",
}

test_group_member_may_approve if {
	airlock.approve == {"allow": true, "reasons": []} with input as answer("sasha", ["security"], ["group:security"])
}

test_named_user_may_approve if {
	airlock.approve.allow with input as answer("bob", [], ["user:bob"])
}

test_requester_may_not_approve_own_call if {
	airlock.approve == {"allow": false, "reasons": ["the requester may not approve their own call"]} with input as answer("alice", ["security"], ["group:security"])
}

test_outsider_may_not_approve if {
	airlock.approve == {"allow": false, "reasons": ["approver carol is not among group:security, user:bob"]} with input as answer("carol", ["eng"], ["group:security", "user:bob"])
}

test_revoked_approver_denied if {
	airlock.approve.reasons == ["approver sasha is revoked"] with input as answer("sasha", ["security"], ["group:security"]) with data.revocations as {"users": ["sasha"]}
}

test_expired_approval_denied if {
	late := object.union(answer("sasha", ["security"], ["group:security"]), {"time": "2026-01-06T17:00:01Z"})
	airlock.approve.reasons == ["the approval has expired"] with input as late
}

test_anonymous_approver_denied if {
	d := airlock.approve with input as object.remove(answer("x", [], ["group:security"]), ["approver"])
	d.allow == false
	"the answer carries no authenticated approver" in d.reasons
}

test_approval_without_approvers_denied if {
	d := airlock.approve with input as object.union(answer("sasha", ["security"], []), {"approval": {"approvers": null}})
	d.allow == false
	"the approval names no approvers" in d.reasons
}

test_revoked_approver_object_form_denied if {
	airlock.approve.reasons == ["approver sasha is revoked"] with input as answer("sasha", ["security"], ["group:security"]) with data.revocations as {"users": {"sasha": {"reason": "on leave"}}}
}

test_call_without_requester_denied if {
	airlock.approve.reasons == ["the parked call has no requester"] with input as object.union(answer("sasha", ["security"], ["group:security"]), {"call": {"user": null}})
}
