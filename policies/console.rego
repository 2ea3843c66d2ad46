# What each person may see and do in the console (/console/ on the agents'
# listener): `airlock serve` asks `airlock/console` when someone signs in and
# before every console read or write. The groups that hold each action are data
# (data.console): by default the security team answers approvals and reads the
# audit trail, admins also edit live data, and every signed-in user sees their
# own parked calls. Answering one particular approval is still decided by
# `airlock/approve` (self-approval, named approvers, expiry).
#
# Actions: "approvals.own" (one's own parked calls), "approvals.answer" (the
# approvals inbox), "audit.read" (the audit explorer), "data.write" (live data),
# "policy.read" (the policy status page: the active bundle and live data),
# "policy.replay" (the what-if page: evaluate an input against the active
# bundle, replay the trail against an uploaded bundle).
#
# Input: {"user": {"sub", "groups"}, "action"?: "audit.read"}
# Output: {"allow": bool, "actions": [...], "reasons": [...]}: `actions` is
# everything the user may do; `allow` whether `action` is among them (without
# an action: whether the user may use the console at all).
package airlock

import rego.v1

console_known_actions := {"approvals.own", "approvals.answer", "audit.read", "data.write", "policy.read", "policy.replay"}

console_user := input.user.sub if {
	is_string(input.user.sub)
	input.user.sub != ""
}

console_revoked if console_user in data.revocations.users

console_revoked if {
	is_object(data.revocations.users)
	_ = data.revocations.users[console_user]
}

console_blocked contains "the console needs a signed-in user" if not console_user

console_blocked contains sprintf("user %s is revoked", [console_user]) if console_revoked

console_denials contains r if some r in console_blocked

console_granted contains a if {
	some a in data.console.everyone
	a in console_known_actions
}

console_granted contains a if {
	some g in input.user.groups
	some a in data.console.groups[g]
	a in console_known_actions
}

console_actions := set() if count(console_blocked) > 0

console_actions := console_granted if count(console_blocked) == 0

console_denials contains sprintf("unknown console action %s", [input.action]) if {
	is_string(input.action)
	not input.action in console_known_actions
}

console_denials contains sprintf("%s may not %s", [console_user, input.action]) if {
	count(console_blocked) == 0
	input.action in console_known_actions
	not input.action in console_actions
}

console_denials contains sprintf("%s has no console access", [console_user]) if {
	count(console_blocked) == 0
	not input.action
	count(console_actions) == 0
}

# METADATA
# title: Console
# description: What input.user may see and do in the console; whether input.action is among it.
# entrypoint: true
console := {
	"allow": count(console_denials) == 0,
	"actions": sort([a | some a in console_actions]),
	"reasons": sort([r | some r in console_denials]),
}
