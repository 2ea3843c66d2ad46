# METADATA
# title: Name patterns
# description: |
#   The one pattern syntax of the data files: an exact name, `*` (anything),
#   or a prefix followed by `*` (`list_*`, `github://corp/*`, `claude-*`).
package airlock.match

import rego.v1

# name(pattern, value): value is matched by pattern.
name(pattern, value) if pattern == value

name("*", value) if is_string(value)

name(pattern, value) if {
	is_string(value)
	endswith(pattern, "*")
	startswith(value, trim_suffix(pattern, "*"))
}
