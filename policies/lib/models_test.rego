package airlock.models_test

import rego.v1

import data.airlock.models

config := {"allowed": [{"provider": "anthropic", "name": "claude-*"}, {"provider": "openai", "name": "gpt-4o"}], "require_attestation": false}

servers := {"warehouse": {"sensitive": true}, "github": {}}

tools := {"github": {"delete_repo": {"sensitive": true}}}

call(server, tool, model) := {"action": "tools/call", "server": {"name": server}, "tool": {"name": tool}, "model": model}

test_allowed_model_on_sensitive_server if {
	count(models.deny) == 0 with input as call("warehouse", "run_sql", {"provider": "anthropic", "name": "claude-sonnet-4"}) with data.models.sensitive_tools as config with data.servers as servers with data.tools as tools
}

test_unlisted_model_denied if {
	models.deny == {"model openai/gpt-3.5-turbo is not approved for sensitive tool run_sql"} with input as call("warehouse", "run_sql", {"provider": "openai", "name": "gpt-3.5-turbo"}) with data.models.sensitive_tools as config with data.servers as servers with data.tools as tools
}

test_provider_must_match if {
	count(models.deny) == 1 with input as call("warehouse", "run_sql", {"provider": "acme", "name": "claude-sonnet-4"}) with data.models.sensitive_tools as config with data.servers as servers with data.tools as tools
}

test_missing_model_denied if {
	models.deny == {"model unknown/unknown is not approved for sensitive tool run_sql"} with input as {"action": "tools/call", "server": {"name": "warehouse"}, "tool": {"name": "run_sql"}} with data.models.sensitive_tools as config with data.servers as servers with data.tools as tools
}

test_sensitive_tool_on_ordinary_server if {
	count(models.deny) == 1 with input as call("github", "delete_repo", {"provider": "local", "name": "llama"}) with data.models.sensitive_tools as config with data.servers as servers with data.tools as tools
	count(models.deny) == 0 with input as call("github", "list_repos", {"provider": "local", "name": "llama"}) with data.models.sensitive_tools as config with data.servers as servers with data.tools as tools
}

test_attestation_required if {
	strict := object.union(config, {"require_attestation": true})
	count(models.deny) == 1 with input as call("warehouse", "q", {"provider": "openai", "name": "gpt-4o", "attested": false}) with data.models.sensitive_tools as strict with data.servers as servers with data.tools as tools
	count(models.deny) == 0 with input as call("warehouse", "q", {"provider": "openai", "name": "gpt-4o", "attested": true}) with data.models.sensitive_tools as strict with data.servers as servers with data.tools as tools
}
