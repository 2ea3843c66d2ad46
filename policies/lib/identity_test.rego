package airlock.identity_test

import rego.v1

import data.airlock.identity

alice := {"user": {"sub": "alice", "groups": ["eng"], "claims": {"jti": "tok-1"}}, "agent": {"id": "devops-agent", "claims": {}}, "request": {"session": "s-1"}}

test_identified_caller_has_no_denials if {
	count(identity.deny) == 0 with input as alice with data.revocations as {}
}

test_revoked_user_array if {
	"user alice is revoked" in identity.deny with input as alice with data.revocations as {"users": ["alice"]}
}

test_revoked_user_object_form if {
	"user alice is revoked" in identity.deny with input as alice with data.revocations as {"users": {"alice": {"reason": "left the company"}}}
}

test_revoked_agent if {
	"agent devops-agent is revoked" in identity.deny with input as alice with data.revocations as {"agents": ["devops-agent"]}
}

test_revoked_token if {
	"the user's token is revoked" in identity.deny with input as alice with data.revocations as {"tokens": ["tok-1"]}
}

test_revoked_session if {
	"the session is revoked" in identity.deny with input as alice with data.revocations as {"sessions": {"s-1": true}}
}

test_other_revocations_do_not_apply if {
	count(identity.deny) == 0 with input as alice with data.revocations as {"users": ["bob"], "agents": {"other-agent": {}}, "tokens": ["tok-2"]}
}

test_no_revocation_data_at_all if {
	count(identity.deny) == 0 with input as alice
}

test_missing_user_denied if {
	"the call carries no authenticated user" in identity.deny with input as {"agent": {"id": "devops-agent"}}
}

test_empty_subject_denied if {
	"the call carries no authenticated user" in identity.deny with input as {"user": {"sub": ""}, "agent": {"id": "a"}}
}

test_missing_agent_denied if {
	"the call carries no agent id" in identity.deny with input as {"user": {"sub": "alice"}}
}

test_groups if {
	identity.groups == {"eng", "sre"} with input as {"user": {"sub": "alice", "groups": ["eng", "sre"]}}
}

test_revoked_agent_token if {
	caller := object.union(alice, {"agent": {"id": "devops-agent", "claims": {"jti": "agent-tok-9"}}})
	identity.deny == {"the agent's token is revoked"} with input as caller with data.revocations as {"tokens": {"agent-tok-9": {}}}
}
