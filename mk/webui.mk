# The web UI (webui/, docs/webui.md). Its tests run in `make pytest` with the rest; these
# targets run just them, e.g. to look at the screenshots in test-artifacts/screenshots/.

.PHONY: webui-test webui-screenshots webui-serve

webui-test: venv deps-test
	$(BIN)/python -m pytest tests/unit/webui tests/integration/webui

webui-screenshots: venv deps-test
	$(BIN)/python -m pytest tests/integration/webui/test_browser.py
	@echo "screenshots: test-artifacts/screenshots/"

## make webui-serve: the UI on http://127.0.0.1:8080 for development (needs [database] in
## ELSE_CONFIG or /etc/else/else.toml, or ELSE_WEB_DSN).
webui-serve: venv
	$(BIN)/elsectl serve --insecure-http --host 127.0.0.1 --port 8080
