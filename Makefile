# What `sam build` runs for each function (template.yaml: `BuildMethod: makefile`;
# samconfig.toml: `build_in_source`): `make build-<LogicalId>`, with ARTIFACTS_DIR set.
#
# Every target builds all the bootstraps in ONE `cargo lambda build`, then copies its
# own. In one invocation cargo links the functions side by side, on every core; with a
# `cargo lambda build` per function (`BuildMethod: rust-cargolambda`) they were linked
# one after another, each invocation holding the build directory's lock. The first
# target to run does the work; cargo's lock makes the others wait, then find it done.
# The functions are named as packages (`-p`), so that only their own features are
# enabled, as in `bench/cold-start.sh`. docs/performance.md ("`sam build`") has times.
#
# A function's logical id is its crate's name in CamelCase followed by `Function`
# (LiveCreateFunction builds functions/live-create); tests/repository/template.rs checks
# that every function in template.yaml follows this.

FUNCTIONS := $(notdir $(wildcard functions/*))
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

build-%Function:
	cargo lambda build --release $(addprefix -p ,$(FUNCTIONS))
	cp "$(TARGET_DIR)/lambda/$(shell printf '%s' '$*' | sed -E 's/([a-z0-9])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"
