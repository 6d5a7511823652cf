# `make bench`: the benchmarks, side by side with their peers in the same run. They print
# figures (also written to bench/out/*.json) and assert nothing about time.
# Not part of `make test` (TEST_EXTRA): a 1M-line run takes minutes, not a CI gate.
# The dense log (bench/make_dense_log.py) is made from a real Postfix run: Postfix and the
# test peers come with the test packages, and it runs as root like `make test`.
BENCH_APT_PACKAGES := pflogsumm

.PHONY: bench bench-report bench-dense bench-growth

# bench/import takes the dense log bench-dense made: import vs plain COPY (CPU of both sides,
# RSS), then search vs grep and the `elsectl search` start-up on the database it imported.
bench: bench-report bench-dense bench-growth
	@for b in bench/import* bench/search*; do \
	    if [ -f "$$b" ] && [ -x "$$b" ]; then echo "== $$b"; $(BIN)/python "$$b"; fi; \
	done

bench-report: venv
	tools/apt-ensure $(BENCH_APT_PACKAGES)
	@echo "== bench/report_vs_pflogsumm (sparse: the pixelpark log, mostly postscreen noise)"
	$(BIN)/python bench/report_vs_pflogsumm

## make bench-dense: report, parse and pflogsumm on the e-mail-dense 1M-line log.
bench-dense: venv deps-test
	tools/apt-ensure $(BENCH_APT_PACKAGES)
	@echo "== bench/report_vs_pflogsumm --dense (a real Postfix run, replicated to 1M lines)"
	$(BIN)/python bench/report_vs_pflogsumm --dense

## make bench-growth: cost per line at 1x, 4x, 16x the same dense traffic.
bench-growth: venv deps-test
	@echo "== bench/growth"
	$(BIN)/python bench/growth
