# METADATA
# title: Approval of destructive tools
# description: |
#   A tools/call of a destructive tool parks until someone approves it. A tool
#   is destructive when data.tools[server][tool].destructive says so; when data
#   says nothing and data.approval.honour_destructive_hint is true, the MCP
#   annotation `destructiveHint: true` counts (annotations come from the
#   upstream server: data can overrule them either way). Approvers are groups:
#   data.tools[server][tool].approvers, else data.approval.default_approvers.
#   When the gateway replays an approved call it sets input.approval to
#   {"status": "approved", "approver": {"sub", "groups"}}; the approval counts
#   only from someone other than the requester who is in an approver group.
package airlock.approval

import rego.v1

tool_config := data.tools[input.server.name][input.tool.name]

destructive if tool_config.destructive == true

destructive if {
	not is_boolean(tool_config.destructive)
	data.approval.honour_destructive_hint == true
	input.tool.annotations.destructiveHint == true
}

approver_groups := tool_config.approvers

approver_groups := data.approval.default_approvers if not tool_config.approvers

ttl_seconds := tool_config.ttl_seconds

ttl_seconds := data.approval.ttl_seconds if not tool_config.ttl_seconds

required if {
	input.phase == "request"
	input.action == "tools/call"
	destructive
}

granted if {
	input.approval.status == "approved"
	approver := input.approval.approver
	is_string(approver.sub)
	approver.sub != input.user.sub
	some g in approver.groups
	g in approver_groups
}

# The approval still to obtain: effect require_approval.
pending if {
	required
	not granted
}

request := {
	"approvers": [sprintf("group:%s", [g]) | some g in approver_groups],
	"ttl_seconds": ttl_seconds,
}

reasons contains sprintf("destructive tool %s needs approval from group %s", [input.tool.name, concat(" or ", approver_groups)]) if pending
