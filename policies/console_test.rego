package airlock.console_test

import rego.v1

import data.airlock

ask(sub, groups, action) := {"user": {"sub": sub, "groups": groups}, "action": action}

test_security_answers_approvals_and_reads_the_trail if {
	d := airlock.console with input as {"user": {"sub": "sasha", "groups": ["security"]}}
	d == {"allow": true, "actions": ["approvals.answer", "approvals.own", "audit.read", "policy.read", "policy.replay"], "reasons": []}
	airlock.console.allow with input as ask("sasha", ["security"], "approvals.answer")
	airlock.console.allow with input as ask("sasha", ["security"], "audit.read")
}

test_security_does_not_edit_live_data if {
	d := airlock.console with input as ask("sasha", ["security"], "data.write")
	d.allow == false
	d.reasons == ["sasha may not data.write"]
}

test_admins_edit_live_data if {
	airlock.console.allow with input as ask("root", ["admins"], "data.write")
	airlock.console.allow with input as ask("root", ["admins"], "audit.read")
}

test_requester_sees_only_own_parked_calls if {
	d := airlock.console with input as {"user": {"sub": "alice", "groups": ["eng"]}}
	d.actions == ["approvals.own"]
	airlock.console.allow with input as ask("alice", ["eng"], "approvals.own")
	not airlock.console.allow with input as ask("alice", ["eng"], "approvals.answer")
	not airlock.console.allow with input as ask("alice", ["eng"], "audit.read")
}

test_revoked_user_gets_nothing if {
	d := airlock.console with input as ask("sasha", ["security"], "audit.read") with data.revocations as {"users": ["sasha"]}
	d == {"allow": false, "actions": [], "reasons": ["user sasha is revoked"]}
}

test_revoked_user_object_form if {
	d := airlock.console with input as {"user": {"sub": "sasha", "groups": ["security"]}} with data.revocations as {"users": {"sasha": {"reason": "left"}}}
	d.allow == false
	d.actions == []
}

test_anonymous_gets_nothing if {
	d := airlock.console with input as {"user": {"groups": ["security"]}, "action": "audit.read"}
	d.allow == false
	d.actions == []
	d.reasons == ["the console needs a signed-in user"]
}

test_unknown_action_refused if {
	d := airlock.console with input as ask("root", ["admins"], "policy.delete")
	d.allow == false
	d.reasons == ["unknown console action policy.delete"]
}

test_actions_outside_the_known_set_are_never_granted if {
	d := airlock.console with input as {"user": {"sub": "eve", "groups": ["x"]}} with data.console as {"everyone": [], "groups": {"x": ["root.shell"]}}
	d.allow == false
	d.actions == []
	d.reasons == ["eve has no console access"]
}

test_no_console_data_means_no_access if {
	d := airlock.console with input as ask("sasha", ["security"], "approvals.answer") with data.console as {}
	d.allow == false
}

test_security_and_admins_replay_candidate_bundles if {
	airlock.console.allow with input as ask("sasha", ["security"], "policy.replay")
	airlock.console.allow with input as ask("root", ["admins"], "policy.replay")
}

test_requester_may_not_replay if {
	d := airlock.console with input as ask("alice", ["eng"], "policy.replay")
	d.allow == false
	d.reasons == ["alice may not policy.replay"]
}

test_security_and_admins_read_policy_status if {
	airlock.console.allow with input as ask("sasha", ["security"], "policy.read")
	airlock.console.allow with input as ask("root", ["admins"], "policy.read")
	d := airlock.console with input as ask("alice", ["eng"], "policy.read")
	d.reasons == ["alice may not policy.read"]
}
