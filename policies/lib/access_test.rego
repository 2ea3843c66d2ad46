package airlock.access_test

import rego.v1

import data.airlock.access

agents := {
	"devops-agent": {
		"virtual_server": "devops",
		"tools": {"github": ["list_repos", "get_*", "delete_repo"], "ops-db": ["query"]},
		"resources": ["github://corp/*"],
		"prompts": ["incident-summary"],
	},
	"wild-agent": {"tools": {"*": ["*"]}, "resources": [], "prompts": []},
}

groups := {
	"eng": {"tools": {"github": ["*"]}},
	"dba": {"tools": {"ops-db": ["*"]}},
	"admins": {"tools": {"*": ["*"]}},
}

call(user_groups, server, tool) := {
	"phase": "request",
	"action": "tools/call",
	"user": {"sub": "alice", "groups": user_groups},
	"agent": {"id": "devops-agent"},
	"server": {"name": server, "virtual": "devops"},
	"tool": {"name": tool},
}

test_agent_and_group_allow if {
	count(access.deny) == 0 with input as call(["eng"], "github", "list_repos") with data.agents as agents with data.groups as groups
}

test_agent_glob_allows if {
	count(access.deny) == 0 with input as call(["eng"], "github", "get_file") with data.agents as agents with data.groups as groups
}

test_tool_outside_agent_allowlist_is_not_found if {
	access.deny == {"tool create_repo not found"} with input as call(["eng"], "github", "create_repo") with data.agents as agents with data.groups as groups
}

test_group_without_grant_is_not_found if {
	# the agent may query ops-db, but eng users may not
	access.deny == {"tool query not found"} with input as call(["eng"], "ops-db", "query") with data.agents as agents with data.groups as groups
}

test_other_group_grants if {
	count(access.deny) == 0 with input as call(["eng", "dba"], "ops-db", "query") with data.agents as agents with data.groups as groups
}

test_no_groups_no_tools if {
	access.deny == {"tool list_repos not found"} with input as call([], "github", "list_repos") with data.agents as agents with data.groups as groups
}

test_admin_still_bound_by_agent_allowlist if {
	access.deny == {"tool create_repo not found"} with input as call(["admins"], "github", "create_repo") with data.agents as agents with data.groups as groups
}

test_unknown_agent_denied if {
	"agent rogue is not registered" in access.deny with input as object.union(call(["eng"], "github", "list_repos"), {"agent": {"id": "rogue"}}) with data.agents as agents with data.groups as groups
}

test_wrong_virtual_server_denied if {
	"agent devops-agent is not bound to virtual server support" in access.deny with input as object.union(call(["eng"], "github", "list_repos"), {"server": {"name": "github", "virtual": "support"}}) with data.agents as agents with data.groups as groups
}

test_call_without_tool_denied if {
	"tools/call names no tool" in access.deny with input as object.remove(call(["eng"], "github", "x"), ["tool"]) with data.agents as agents with data.groups as groups
}

test_visible_tools_filters_listing if {
	listing := object.union(call(["eng"], "github", ""), {
		"action": "tools/list",
		"phase": "response",
		"result": {"tools": [{"name": "list_repos"}, {"name": "get_file"}, {"name": "create_repo"}, {"name": "delete_repo"}]},
	})
	access.visible_tools == {"list_repos", "get_file", "delete_repo"} with input as listing with data.agents as agents with data.groups as groups
}

test_visible_tools_per_listed_server if {
	listing := object.union(call(["eng"], "github", ""), {
		"action": "tools/list",
		"phase": "response",
		"result": {"tools": [{"name": "list_repos", "server": "github"}, {"name": "query", "server": "ops-db"}]},
	})
	access.visible_tools == {"list_repos"} with input as listing with data.agents as agents with data.groups as groups
}

resource_read(uri) := {
	"action": "resources/read",
	"user": {"sub": "alice", "groups": ["eng"]},
	"agent": {"id": "devops-agent"},
	"resource": {"uri": uri},
}

test_resource_allowed if {
	count(access.deny) == 0 with input as resource_read("github://corp/payments/README.md") with data.agents as agents with data.groups as groups
}

test_resource_uri_from_arguments if {
	count(access.deny) == 0 with input as object.union(object.remove(resource_read(""), ["resource"]), {"arguments": {"uri": "github://corp/x"}}) with data.agents as agents with data.groups as groups
}

test_resource_outside_allowlist_not_found if {
	access.deny == {"resource file:///etc/passwd not found"} with input as resource_read("file:///etc/passwd") with data.agents as agents with data.groups as groups
}

test_visible_resources if {
	listing := {
		"action": "resources/list",
		"phase": "response",
		"agent": {"id": "devops-agent"},
		"result": {"resources": [{"uri": "github://corp/a"}, {"uri": "s3://bucket/b"}]},
	}
	access.visible_resources == {"github://corp/a"} with input as listing with data.agents as agents
}

test_prompt_allowed_and_denied if {
	p := {"action": "prompts/get", "user": {"sub": "alice"}, "agent": {"id": "devops-agent"}}
	count(access.deny) == 0 with input as object.union(p, {"prompt": {"name": "incident-summary"}}) with data.agents as agents
	access.deny == {"prompt leak-secrets not found"} with input as object.union(p, {"arguments": {"name": "leak-secrets"}}) with data.agents as agents
}

test_visible_prompts if {
	listing := {
		"action": "prompts/list",
		"agent": {"id": "devops-agent"},
		"result": {"prompts": [{"name": "incident-summary"}, {"name": "other"}]},
	}
	access.visible_prompts == {"incident-summary"} with input as listing with data.agents as agents
}

test_resource_read_without_uri_denied if {
	"resources/read names no resource" in access.deny with input as object.remove(resource_read(""), ["resource"]) with data.agents as agents
}

test_prompt_get_without_name_denied if {
	"prompts/get names no prompt" in access.deny with input as {"action": "prompts/get", "agent": {"id": "devops-agent"}} with data.agents as agents
}
