# The store (PostgreSQL schema, ingest worker, import, search, stats). Its tests are part of
# the main pytest run (tests/unit/store, tests/integration/store: a throwaway PostgreSQL 15
# cluster per session, postgresql is already in TEST_APT_PACKAGES). Benchmarks: bench/import
# and bench/search, run by `make bench` (mk/bench.mk).

.PHONY: test-store

## make test-store: only the store's tests (about a minute)
test-store: venv deps-test
	$(BIN)/python -m pytest -q tests/unit/store tests/integration/store
