# The two commands: `make run` (set up, migrate, load demo data, serve) and `make test`.
# Everything is installed from this repository's own files into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := wsgi

.PHONY: audit run test setup vendor db translations lint bench bench-routing clean help

help:
	@echo "make run    set up, migrate, load demo data into an empty database, serve on http://$(HOST):$(PORT)"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff"
	@echo "make bench  routing benchmark (see docs/benchmarks.md)"
	@echo "make screenshots  run the browser tests, refreshing docs/screenshots/"
	@echo "make prod   production process model here: 2 gunicorn + scheduler + nginx (docs/deployment.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed translations vendor

# Browser libraries (Leaflet with leaflet.markercluster, Socket.IO client, ECharts with its Chinese locale, Swagger UI for /api/docs, vis-timeline with its
# peers vis-data and moment) from package-lock.json, copied into
# web/static/vendor/ (gitignored). Reinstalled only when package.json/package-lock.json change.
VENDOR := web/static/vendor
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENDOR)/.copied: node_modules/.installed
	mkdir -p $(VENDOR)/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css $(VENDOR)/
	cp node_modules/leaflet/dist/images/* $(VENDOR)/images/
	cp node_modules/socket.io-client/dist/socket.io.min.js $(VENDOR)/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp node_modules/echarts/i18n/langZH.js $(VENDOR)/echarts-lang-zh.js
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	# vis-timeline's "peer" build: its "standalone" one injects <style> elements, which the CSP refuses.
	cp node_modules/vis-timeline/peer/umd/vis-timeline-graph2d.min.js node_modules/vis-timeline/styles/vis-timeline-graph2d.min.css $(VENDOR)/
	cp node_modules/vis-data/peer/umd/vis-data.min.js node_modules/moment/min/moment.min.js $(VENDOR)/
	cp node_modules/moment/locale/zh-cn.js $(VENDOR)/moment-zh-cn.js
	cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js node_modules/leaflet.markercluster/dist/MarkerCluster.css node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css $(VENDOR)/
	touch $@

vendor: $(VENDOR)/.copied

translations: $(VENV)/.installed
	@$(BIN)/pybabel compile --use-fuzzy -d web/translations

db: setup
	$(BIN)/alembic upgrade head

run: db
	@$(BIN)/flask seed-demo --if-empty
	@echo ""
	@echo "  Dispatch is starting on http://$(HOST):$(PORT)"
	@echo "  Demo logins (password demo-pass-2026): admin, dispatcher, manager, tech01 ... tech30"
	@echo "  Customer request form: http://$(HOST):$(PORT)/request"
	@echo ""
	SCHEDULER_IN_PROCESS=1 $(BIN)/flask run --host $(HOST) --port $(PORT)

# The reliability runs start whole stacks (gunicorn, private PostgreSQL and Redis servers that
# they stop, kill and restart): they take minutes, so they are `make soak`'s, not `make test`'s.
# The suite runs in parallel: one pytest-xdist worker per core plus one, because a good part of it
# waits on Chromium, on servers it starts and on timeouts (at most 4; TEST_WORKERS=0 runs it in one
# process); `worksteal` hands a finished worker the tests another has not started, so the run does
# not end on one worker's queue. Each worker has its own PostgreSQL database (tests/conftest.py).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
test: setup
	$(BIN)/python -m pytest --ignore=tests/reliability -n $(TEST_WORKERS) --maxprocesses 4 --dist worksteal $(PYTEST_ARGS)

# The browser tests again, writing their screenshots over docs/screenshots/ (make test writes
# them to the gitignored test-artifacts/screenshots/ and leaves the working tree alone).
.PHONY: screenshots
screenshots: setup
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest tests/browser -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)

# Every reliability run against the real stack (PostgreSQL: TEST_DATABASE_URL), the short
# variants and the long `soak` ones (tests/reliability/conftest.py keeps the soak runs out
# unless the mark expression names them): figures in docs/benchmarks.md. CI runs it.
.PHONY: soak
soak: setup
	$(BIN)/python -m pytest -m "soak or not soak" tests/reliability -q -s $(PYTEST_ARGS)

# The production process model on this machine (PostgreSQL + Redis + nginx): docs/deployment.md.
.PHONY: prod
prod: setup
	deploy/run-local.sh

# Known vulnerabilities in the pinned runtime dependencies (PyPI's advisory data). --strict:
# a package that could not be looked up fails the audit instead of passing unaudited.
audit: setup
	$(BIN)/pip-audit --strict --progress-spinner off -r requirements.txt

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: bench-routing

bench-routing: setup
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m bench.routing $(BENCH_ARGS)

# Live figures at modest sizes (PostgreSQL at BENCH_DB, emptied; Redis at BENCH_REDIS; Chromium):
# docs/benchmarks.md has the full-size commands and the figures.
BENCH_DB    ?= postgresql://postgres@127.0.0.1:5432/bench_live
BENCH_REDIS ?= redis://127.0.0.1:6379/8
.PHONY: bench-live
bench-live: setup
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m bench.board --url $(BENCH_DB) --redis $(BENCH_REDIS) latency --boards 1,100 --events 50
	$(BIN)/python -m bench.board --url $(BENCH_DB) --redis $(BENCH_REDIS) firstload --runs 3
	$(BIN)/python -m bench.phone --url $(BENCH_DB) --runs 3
	$(BIN)/python -m bench.load --url $(BENCH_DB) --redis $(BENCH_REDIS) intake --concurrency 4 --duration 15
	$(BIN)/python -m bench.load --url $(BENCH_DB) --redis $(BENCH_REDIS) techs --duration 30
	$(BIN)/python -m bench.load --url $(BENCH_DB) --redis $(BENCH_REDIS) fanout --boards 200 --events 50

clean:
	rm -rf $(VENV) instance/dispatch.db .pytest_cache node_modules $(VENDOR)
