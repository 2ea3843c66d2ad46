# METADATA
# title: SQL tools
# description: |
#   Tools that take SQL (data.tools[server][tool].sql_argument names the
#   argument) run read-only statements only, unless the user is in one of
#   data.sql.admin_groups. Read-only means: one statement, whose first keyword
#   is in data.sql.read_only_statements, and in which no keyword of
#   data.sql.write_keywords appears outside string literals and comments
#   (this also refuses `WITH … DELETE`, `SELECT … INTO` and `EXPLAIN ANALYZE`).
#   The check errs on the side of refusing: a read-only query that mentions a
#   write keyword as a bare identifier is refused too.
package airlock.sql

import rego.v1

import data.airlock.identity

# The argument holding the SQL, when the called tool takes SQL.
sql_argument := data.tools[input.server.name][input.tool.name].sql_argument

statement := input.arguments[sql_argument]

admin if {
	some g in identity.groups
	g in data.sql.admin_groups
}

# normalized(sql): lower case, without comments, string literals and quoted identifiers.
normalized(sql) := lower(regex.replace(
	regex.replace(sql, `--[^\n]*|/\*[\s\S]*?\*/`, " "),
	"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`",
	"''",
))

words(sql) := regex.find_n(`[a-z_][a-z0-9_$]*`, normalized(sql), -1)

# More than one non-empty statement.
several_statements(sql) if {
	count([s |
		some s in split(normalized(sql), ";")
		trim_space(s) != ""
	]) > 1
}

read_only(sql) if {
	ws := words(sql)
	ws[0] in data.sql.read_only_statements
	not several_statements(sql)
	every w in ws {
		not w in data.sql.write_keywords
	}
}

deny contains sprintf("tool %s needs its SQL as a string in argument %s", [input.tool.name, sql_argument]) if {
	input.phase == "request"
	input.action == "tools/call"
	not is_string(statement)
}

deny contains sprintf(
	"tool %s runs read-only SQL only (one SELECT, WITH, SHOW, EXPLAIN … statement) unless the user is in group %s",
	[input.tool.name, concat(" or ", data.sql.admin_groups)],
) if {
	input.phase == "request"
	input.action == "tools/call"
	is_string(statement)
	not admin
	not read_only(statement)
}
