# METADATA
# title: Model allowlist for sensitive tools
# description: |
#   Tools on a server marked `"sensitive": true` in data.servers, or marked so
#   themselves in data.tools, may only be called by agents running a model
#   listed in data.models.sensitive_tools.allowed (provider exactly, name as a
#   pattern: exact, `*` or `prefix*`); with `require_attestation`, the gateway must also have attested the
#   model (input.model.attested).
package airlock.models

import rego.v1

import data.airlock.match

sensitive(server, tool) if data.servers[server].sensitive == true

sensitive(server, tool) if data.tools[server][tool].sensitive == true

attestation_ok if not data.models.sensitive_tools.require_attestation

attestation_ok if input.model.attested == true

model_allowed if {
	some m in data.models.sensitive_tools.allowed
	m.provider == input.model.provider
	match.name(m.name, input.model.name)
	attestation_ok
}

# "provider/name" of the calling model, "unknown" for what the input leaves out.
model_label := sprintf("%v/%v", [object.get(input, ["model", "provider"], "unknown"), object.get(input, ["model", "name"], "unknown")])

deny contains sprintf("model %s is not approved for sensitive tool %v", [model_label, input.tool.name]) if {
	input.action == "tools/call"
	sensitive(input.server.name, input.tool.name)
	not model_allowed
}
