package airlock.match_test

import rego.v1

import data.airlock.match

test_exact if {
	match.name("delete_repo", "delete_repo")
	not match.name("delete_repo", "delete_repos")
}

test_star_matches_any_string if {
	match.name("*", "anything at all")
	match.name("*", "")
	not match.name("*", 7)
}

test_prefix if {
	match.name("list_*", "list_repos")
	match.name("claude-*", "claude-sonnet-4")
	match.name("github://corp/*", "github://corp/payments/README.md")
	not match.name("list_*", "get_list")
	not match.name("github://corp/*", "github://corporate/x")
}

test_star_only_at_the_end if {
	not match.name("*_repos", "list_repos")
}
