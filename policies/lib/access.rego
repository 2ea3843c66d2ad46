# METADATA
# title: Access (virtual servers and least privilege)
# description: |
#   Which tools, resources and prompts a call may reach. Two allowlists must
#   both agree: the agent's (data.agents[agent].tools: its virtual server) and
#   the user's groups' (data.groups[group].tools: least privilege). Server and
#   tool names in both may be patterns (`*`, `list_*`). A tool that either list
#   leaves out is hidden from tools/list and answers tools/call exactly like a
#   tool that does not exist.
package airlock.access

import rego.v1

import data.airlock.identity
import data.airlock.match

# The calling agent's registration in data.agents.
agent := data.agents[identity.agent_id]

# matches(pattern, name): see data.airlock.match (exact, `*`, or `prefix*`).
matches(pattern, name) if match.name(pattern, name)

# entry_allows(grants, server, tool): a {server-pattern: [tool-pattern]} object grants server/tool.
entry_allows(grants, server, tool) if {
	some server_pattern, tool_patterns in grants
	matches(server_pattern, server)
	some tool_pattern in tool_patterns
	matches(tool_pattern, tool)
}

agent_allows(server, tool) if entry_allows(agent.tools, server, tool)

group_allows(server, tool) if {
	some g in identity.groups
	entry_allows(data.groups[g].tools, server, tool)
}

# tool_allowed(server, tool): both the agent and one of the user's groups may use it.
tool_allowed(server, tool) if {
	agent_allows(server, tool)
	group_allows(server, tool)
}

# The server and tool a tools/call addresses.
server_name := input.server.name

tool_name := input.tool.name

# The resource a resources/* call addresses (`resource.uri`, or the `uri` request parameter).
resource_uri := input.resource.uri

resource_uri := input.arguments.uri if not input.resource.uri

resource_allowed(uri) if {
	some pattern in agent.resources
	matches(pattern, uri)
}

# The prompt a prompts/get call addresses (`prompt.name`, or the `name` request parameter).
prompt_name := input.prompt.name

prompt_name := input.arguments.name if not input.prompt.name

prompt_allowed(name) if name in agent.prompts

# Registration and binding: an unknown agent, or one calling through another agent's virtual server.
deny contains sprintf("agent %s is not registered", [identity.agent_id]) if not agent

deny contains sprintf("agent %s is not bound to virtual server %s", [identity.agent_id, input.server.virtual]) if {
	is_string(input.server.virtual)
	input.server.virtual != agent.virtual_server
}

# tools/call: hidden means absent.
deny contains sprintf("tool %s not found", [tool_name]) if {
	input.action == "tools/call"
	not tool_allowed(server_name, tool_name)
}

deny contains "tools/call names no tool" if {
	input.action == "tools/call"
	not is_string(tool_name)
}

# resources/read and resources/subscribe: the agent's resource patterns.
deny contains sprintf("resource %s not found", [resource_uri]) if {
	input.action in {"resources/read", "resources/subscribe", "resources/unsubscribe"}
	not resource_allowed(resource_uri)
}

deny contains sprintf("%s names no resource", [input.action]) if {
	input.action in {"resources/read", "resources/subscribe", "resources/unsubscribe"}
	not is_string(resource_uri)
}

# prompts/get: the agent's prompt list.
deny contains sprintf("prompt %s not found", [prompt_name]) if {
	input.action == "prompts/get"
	not prompt_allowed(prompt_name)
}

deny contains "prompts/get names no prompt" if {
	input.action == "prompts/get"
	not is_string(prompt_name)
}

# tools/list (response phase): the names of the listed tools this agent and user may use.
# A listed tool may carry its own `server` (aggregating virtual servers); otherwise input.server.name.
visible_tools contains t.name if {
	some t in input.result.tools
	tool_allowed(object.get(t, "server", server_name), t.name)
}

# resources/list (response phase): the URIs of the listed resources the agent may read.
visible_resources contains r.uri if {
	some r in input.result.resources
	resource_allowed(r.uri)
}

# prompts/list (response phase): the names of the listed prompts the agent may use.
visible_prompts contains p.name if {
	some p in input.result.prompts
	prompt_allowed(p.name)
}
