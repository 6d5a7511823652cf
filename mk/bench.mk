# `make bench`: the benchmarks, side by side with their peers in the same run. They print
# figures (also written to bench/out/*.json) and assert nothing about time.
# Not part of `make test` (TEST_EXTRA): a 1M-line run takes minutes, not a CI gate.
BENCH_APT_PACKAGES := pflogsumm

.PHONY: bench bench-report

bench: bench-report
	@for b in bench/import* bench/search*; do \
	    if [ -f "$$b" ] && [ -x "$$b" ]; then echo "== $$b"; "$$b"; fi; \
	done

bench-report: venv
	tools/apt-ensure $(BENCH_APT_PACKAGES)
	@echo "== bench/report_vs_pflogsumm"
	$(BIN)/python bench/report_vs_pflogsumm
