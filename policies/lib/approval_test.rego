package airlock.approval_test

import rego.v1

import data.airlock.approval

tools := {"github": {
	"delete_repo": {"destructive": true, "approvers": ["security"], "ttl_seconds": 600},
	"archive_repo": {"destructive": false},
}}

defaults := {"default_approvers": ["platform"], "ttl_seconds": 3600, "honour_destructive_hint": true}

call(tool, annotations) := {
	"phase": "request",
	"action": "tools/call",
	"user": {"sub": "alice", "groups": ["eng", "security"]},
	"server": {"name": "github"},
	"tool": {"name": tool, "annotations": annotations},
	"approval": null,
}

test_listed_destructive_tool_needs_approval if {
	approval.pending with input as call("delete_repo", {}) with data.tools as tools with data.approval as defaults
	approval.request == {"approvers": ["group:security"], "ttl_seconds": 600} with input as call("delete_repo", {}) with data.tools as tools with data.approval as defaults
	approval.reasons == {"destructive tool delete_repo needs approval from group security"} with input as call("delete_repo", {}) with data.tools as tools with data.approval as defaults
}

test_destructive_hint_needs_approval_from_default_group if {
	approval.pending with input as call("force_push", {"destructiveHint": true}) with data.tools as tools with data.approval as defaults
	approval.request == {"approvers": ["group:platform"], "ttl_seconds": 3600} with input as call("force_push", {"destructiveHint": true}) with data.tools as tools with data.approval as defaults
}

test_data_overrules_the_hint if {
	not approval.pending with input as call("archive_repo", {"destructiveHint": true}) with data.tools as tools with data.approval as defaults
}

test_hint_ignored_when_configured_so if {
	not approval.pending with input as call("force_push", {"destructiveHint": true}) with data.tools as tools with data.approval as object.union(defaults, {"honour_destructive_hint": false})
}

test_read_only_tool_needs_no_approval if {
	not approval.pending with input as call("list_repos", {"readOnlyHint": true}) with data.tools as tools with data.approval as defaults
}

test_approved_by_other_member_of_group if {
	approved := object.union(call("delete_repo", {}), {"approval": {"status": "approved", "approver": {"sub": "bob", "groups": ["security"]}}})
	not approval.pending with input as approved with data.tools as tools with data.approval as defaults
}

test_self_approval_does_not_count if {
	self := object.union(call("delete_repo", {}), {"approval": {"status": "approved", "approver": {"sub": "alice", "groups": ["security"]}}})
	approval.pending with input as self with data.tools as tools with data.approval as defaults
}

test_approval_from_outside_the_group_does_not_count if {
	other := object.union(call("delete_repo", {}), {"approval": {"status": "approved", "approver": {"sub": "carol", "groups": ["eng"]}}})
	approval.pending with input as other with data.tools as tools with data.approval as defaults
}

test_rejected_approval_does_not_count if {
	rejected := object.union(call("delete_repo", {}), {"approval": {"status": "rejected", "approver": {"sub": "bob", "groups": ["security"]}}})
	approval.pending with input as rejected with data.tools as tools with data.approval as defaults
}

test_response_phase_needs_no_approval if {
	not approval.pending with input as object.union(call("delete_repo", {}), {"phase": "response"}) with data.tools as tools with data.approval as defaults
}
