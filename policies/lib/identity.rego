# METADATA
# title: Identity and revocation
# description: |
#   Who is calling, and whether any of it has been revoked. Revocations live
#   under data.revocations, a root the bundle does not ship, so that the
#   gateway's Data API can write them live (PUT /v1/data/revocations/users/mallory)
#   and the very next decision sees them. Each list may be an array of ids or an
#   object keyed by id (the value can hold a reason and a timestamp).
package airlock.identity

import rego.v1

# The end user's subject, when the call carries an authenticated user.
user_id := input.user.sub if {
	is_string(input.user.sub)
	input.user.sub != ""
}

# The agent's id, when the call carries an identified agent.
agent_id := input.agent.id if {
	is_string(input.agent.id)
	input.agent.id != ""
}

# The user's groups (empty when none are given).
groups contains g if some g in input.user.groups

# listed(kind, id): id is on the revocation list data.revocations[kind].
listed(kind, id) if id in data.revocations[kind]

listed(kind, id) if {
	is_object(data.revocations[kind])
	_ = data.revocations[kind][id]
}

# Why the call must be refused because someone or something was revoked.
revoked contains sprintf("user %s is revoked", [user_id]) if listed("users", user_id)

revoked contains sprintf("agent %s is revoked", [agent_id]) if listed("agents", agent_id)

revoked contains "the user's token is revoked" if listed("tokens", input.user.claims.jti)

revoked contains "the agent's token is revoked" if listed("tokens", input.agent.claims.jti)

revoked contains "the session is revoked" if listed("sessions", input.request.session)

# Why the call cannot be attributed: every call needs a user and an agent.
unidentified contains "the call carries no authenticated user" if not user_id

unidentified contains "the call carries no agent id" if not agent_id

# Reasons to deny for identity alone.
deny contains r if some r in revoked

deny contains r if some r in unidentified
