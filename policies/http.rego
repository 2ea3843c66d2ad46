# Forward-auth for proxies: nginx auth_request, Caddy forward_auth, Traefik
# ForwardAuth and Envoy's HTTP ext_authz ask /v1/authz/http whether a request
# may reach the application behind them. This example lets authenticated users
# reach paths by group (data.http.routes, in http/data.json), refuses revoked
# users, agents and tokens (data.revocations, written live), and tells the
# upstream who the user is in X-Airlock-User.
#
# Input (schema/http-input.schema.json): {"method", "path", "query", "host",
# "scheme", "headers", "user", "agent", "model", "proxy"}; `path` is decoded
# and free of dot and empty segments. Output (schema/http-decision.schema.json):
# {"allow": bool, "reasons": [...], "headers": {...}}; optionally "status"
# (a 4xx) for a denial.
package airlock

import rego.v1

import data.airlock.identity

# http_under(path, prefix): path is prefix itself or lies below it, segment by segment.
http_under(path, prefix) if path == prefix

http_under(path, prefix) if startswith(path, concat("", [trim_suffix(prefix, "/"), "/"]))

# The route of the request: the longest route path that the request path lies under.
# (Of two prefixes of the same path the longer one is also the greater string.)
http_route_path := max({p |
	some p, _ in data.http.routes
	http_under(input.path, p)
})

http_route := data.http.routes[http_route_path]

http_denials contains r if some r in identity.revoked

http_denials contains "the request carries no authenticated user" if not identity.user_id

http_denials contains sprintf("%s is not served here", [input.path]) if {
	identity.user_id
	not http_route
}

http_denials contains sprintf("method %s is not allowed on %s", [input.method, input.path]) if {
	http_route.methods
	not input.method in http_route.methods
}

http_denials contains sprintf("user %s may not reach %s", [identity.user_id, input.path]) if {
	http_route
	not "*" in http_route.groups
	count({g |
		some g in http_route.groups
		g in identity.groups
	}) == 0
}

http_allowed if count(http_denials) == 0

default http_headers := {}

http_headers := {"X-Airlock-User": identity.user_id} if http_allowed

# METADATA
# title: Forward-auth
# description: Whether the proxied request in input may reach the upstream, and the headers it carries there.
# entrypoint: true
http := {
	"allow": count(http_denials) == 0,
	"reasons": sort([r | some r in http_denials]),
	"headers": http_headers,
}
