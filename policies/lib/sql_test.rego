package airlock.sql_test

import rego.v1

import data.airlock.sql

test_plain_select_is_read_only if {
	sql.read_only("SELECT name, email FROM customers WHERE id = 7")
	sql.read_only("  select 1;  ")
	sql.read_only("WITH recent AS (SELECT * FROM orders) SELECT count(*) FROM recent")
	sql.read_only("EXPLAIN SELECT * FROM t")
	sql.read_only("show tables")
}

test_keywords_inside_strings_and_comments_do_not_count if {
	sql.read_only("SELECT * FROM notes WHERE body = 'please delete this' -- drop later")
	sql.read_only("SELECT /* update */ 1")
	sql.read_only(`SELECT "insert" FROM t`)
	sql.read_only("SELECT updated_at FROM t")
}

test_writes_are_not_read_only if {
	not sql.read_only("DELETE FROM customers")
	not sql.read_only("update t set x = 1")
	not sql.read_only("INSERT INTO t VALUES (1)")
	not sql.read_only("DROP TABLE salaries")
	not sql.read_only("CREATE TABLE x (a int)")
	not sql.read_only("TRUNCATE audit")
	not sql.read_only("GRANT ALL ON t TO bob")
}

test_disguised_writes_are_not_read_only if {
	not sql.read_only("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone")
	not sql.read_only("SELECT * INTO backup FROM salaries")
	not sql.read_only("SELECT 1; DROP TABLE salaries")
	not sql.read_only("EXPLAIN ANALYZE DELETE FROM t")
	not sql.read_only("SELECT pg_terminate_backend(42)")
	not sql.read_only("sElEcT 1; dElEtE from t")
	not sql.read_only("SELECT 1 /* ; */; DELETE FROM t")
}

test_empty_statement_is_not_read_only if {
	not sql.read_only("")
	not sql.read_only("-- just a comment")
}

tools := {"warehouse": {"run_sql": {"sql_argument": "query"}}}

call(groups, query) := {
	"phase": "request",
	"action": "tools/call",
	"user": {"sub": "alice", "groups": groups},
	"server": {"name": "warehouse"},
	"tool": {"name": "run_sql"},
	"arguments": {"query": query},
}

test_analyst_select_allowed if {
	count(sql.deny) == 0 with input as call(["analysts"], "SELECT * FROM sales") with data.tools as tools
}

test_analyst_write_denied if {
	sql.deny == {"tool run_sql runs read-only SQL only (one SELECT, WITH, SHOW, EXPLAIN … statement) unless the user is in group dba or admins"} with input as call(["analysts"], "DELETE FROM sales") with data.tools as tools with data.sql.admin_groups as ["dba", "admins"]
}

test_admin_write_allowed if {
	count(sql.deny) == 0 with input as call(["dba"], "DELETE FROM sales WHERE id = 1") with data.tools as tools
}

test_missing_sql_denied if {
	sql.deny == {"tool run_sql needs its SQL as a string in argument query"} with input as json.patch(call(["analysts"], ""), [{"op": "replace", "path": "/arguments", "value": {"sql": "SELECT 1"}}]) with data.tools as tools
}

test_non_sql_tool_untouched if {
	count(sql.deny) == 0 with input as object.union(call(["analysts"], "DROP TABLE x"), {"tool": {"name": "list_tables"}}) with data.tools as tools
}

test_response_phase_untouched if {
	count(sql.deny) == 0 with input as object.union(call(["analysts"], "DROP TABLE x"), {"phase": "response"}) with data.tools as tools
}
