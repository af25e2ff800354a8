# One entry point for a developer and CI. `make test` is what .ci/run calls.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_ARGS ?=

.PHONY: chromium install lock lockcheck test lint types cfn checkov pytest package aws-models bench sandbox clean

$(BIN)/python:
	@echo "== Creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when the lock or the project's metadata changes: the locked versions (hashes
# checked), then Signoff itself without resolving anything more. pip prints a line per package
# (no --quiet): a minute of silence looks like a hang.
$(STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	@echo "== Installing Signoff's locked dependencies into $(VENV) (a minute or two)"
	$(BIN)/pip install --progress-bar off --require-hashes --requirement requirements-dev.lock
	@echo "== Installing Signoff itself"
	$(BIN)/pip install --quiet --no-deps -e .
	@echo "== Installed; next: make sandbox, make test"
	touch $(STAMP)

install: $(STAMP)

# Re-resolve requirements.lock and requirements-dev.lock after changing pyproject's dependencies.
lock: $(STAMP)
	$(BIN)/python infra/lock.py

# Fails when pyproject's dependencies changed since the locks were compiled (offline, instant).
lockcheck:
	$(PYTHON) infra/lock.py --check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

cfn: $(STAMP)
	$(BIN)/cfn-lint infra/template.yaml

# checkov has its own venv: it pins boto3, urllib3 and packaging below what Signoff needs.
# Its skips, each with a reason, are in .checkov.yaml.
CHECKOV := $(VENV)/checkov/bin/checkov
$(CHECKOV): | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet 'checkov==3.3.30'

checkov: $(CHECKOV)
	$(CHECKOV) --config-file .checkov.yaml

# The Lambda artifact (build/signoff-lambda.zip): requirements.lock's versions as registry
# wheels for the Lambda runtime, Signoff's source, the trimmed AWS models (aws_models/).
package: lockcheck $(STAMP)
	$(BIN)/python infra/package.py

# The trimmed AWS models alone, into build/aws_models/ (`make package` writes its own).
aws-models: $(STAMP)
	$(BIN)/python infra/aws_models.py

# The benchmarks (docs/performance.md), one after the other; each prints its figures and exits 1
# when it misses its target, which does not stop the others (the leading -). lambda_cpu.py needs
# root for its cgroups and says so, skipping, without it; fanout.py --wide adds 200 notices over
# 10 channels.
bench: $(STAMP)
	-$(BIN)/python bench/lambda_cpu.py
	-$(BIN)/python bench/ack_latency.py
	-$(BIN)/python bench/fanout.py --wide
	-$(BIN)/python bench/import_gc.py

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
# fonts-noto-color-emoji: the emulator page shows emoji (:white_check_mark: → ✅) as Slack does.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; } || { \
		echo "Installing Debian's chromium and an emoji font for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium fonts-noto-color-emoji >/dev/null; }

# Two processes (pytest-xdist), each test file whole in one of them (module fixtures such as the
# e2e sandbox are started once); a process that dies ends the run instead of being replaced. The
# slowest test takes about 30 s: one stuck for 300 s fails with every thread's stack
# (pytest-timeout) rather than hanging CI. A long hypothesis run, started by hand, has no limit.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --max-worker-restart 0 --timeout 300

test: lockcheck lint types cfn checkov pytest

sandbox: $(STAMP)
	@echo "== Starting the sandbox: $(BIN)/signoff sandbox $(SANDBOX_ARGS)"
	@$(BIN)/signoff sandbox $(SANDBOX_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
