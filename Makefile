# facerec: every target creates the virtualenv in .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# One worker process: it owns the camera and the recognition worker. Every MJPEG viewer
# holds one thread for as long as it watches, so FACEREC_MAX_VIEWERS (default 60) stays
# well below the thread count: the other threads keep pages, the API and health answering.
# Streams never end by themselves, so a stop waits only 5 s for them (--graceful-timeout).
THREADS ?= 100
STAMP  := $(VENV)/.installed-stamp
CHROMIUM ?= /usr/bin/chromium
MOSQUITTO ?= /usr/sbin/mosquitto
NGINX ?= /usr/sbin/nginx
PROMTOOL ?= /usr/bin/promtool
HA_VENV := .venv-ha

export FLASK_APP := facerec
export FACEREC_TEST_DATA ?= $(abspath ../shared/faces)

.PHONY: install venvs db run dev facerec account token import test bench lint docs docs-serve docs-config chromium postgresql mosquitto nginx prometheus rtsp homeassistant clean

install: $(STAMP)

$(STAMP): requirements.txt setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 'setuptools<82' wheel
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps face_recognition==1.3.0
	@# The project itself, editable: .venv/bin/facerec runs this checkout's code.
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	@touch $@

db: install
	$(BIN)/facerec db upgrade

# facerec.gunicorn_conf: the worker (and so its children) ends with the master, kill -9 included.
run: db
	$(BIN)/python -m gunicorn -c python:facerec.gunicorn_conf --worker-class gthread --workers 1 \
		--threads $(THREADS) --graceful-timeout 5 --bind $(HOST):$(PORT) --access-logfile - \
		wsgi:app

dev: db
	$(BIN)/facerec run --debug --host $(HOST) --port $(PORT)

# The command line (.venv/bin/facerec) through make, after the set-up and the database:
#   make facerec ARGS="accounts list"     any command
#   make account NAME=alice               a sign-in account (asks for its password)
#   make token NAME="door display"        an API token, printed once
#   make import DIR=../shared/faces/people   people from a folder of photos
ARGS ?= --help
facerec: db
	@$(BIN)/facerec $(ARGS)

account: db
	@test -n "$(NAME)" || { echo 'Name the account: make account NAME=alice'; exit 2; }
	@$(BIN)/facerec accounts create "$(NAME)"

token: db
	@test -n "$(NAME)" || { echo 'Name the token: make token NAME="door display"'; exit 2; }
	@$(BIN)/facerec tokens create "$(NAME)"

import: db
	@test -n "$(DIR)" || { echo 'Name the folder: make import DIR=../shared/faces/people'; exit 2; }
	@$(BIN)/facerec users import "$(DIR)"

# Browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
chromium:
	@test -x $(CHROMIUM) || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }
	@test -x $(CHROMIUM) || { echo "Chromium is required for the browser tests: apt-get install chromium"; exit 1; }

# The suite also runs on a real PostgreSQL server, started by a test fixture as an
# unprivileged user in a temporary directory: only Debian's server programs are needed.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -x "$$FACEREC_PG_BINDIR/initdb" ] || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -x "$$FACEREC_PG_BINDIR/initdb" ] || { \
		echo "PostgreSQL is required for the database tests: apt-get install postgresql"; exit 1; }

# The MQTT tests run a real broker (Debian's mosquitto) on a free port; no service is enabled.
mosquitto:
	@test -x $(MOSQUITTO) || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; fi; }
	@test -x $(MOSQUITTO) || { echo "mosquitto is required for the MQTT tests: apt-get install mosquitto"; exit 1; }

# The tests run the documented reverse-proxy configuration (docs/serving/nginx.md) in Debian's nginx.
nginx:
	@test -x $(NGINX) || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; fi; }
	@test -x $(NGINX) || { echo "nginx is required for the reverse-proxy tests: apt-get install nginx-light"; exit 1; }

# A test checks /metrics with promtool, Prometheus's own checker (Debian's prometheus package;
# its service is not started).
prometheus:
	@test -x $(PROMTOOL) || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; fi; }
	@test -x $(PROMTOOL) || { echo "promtool is required for the metrics tests: apt-get install prometheus"; exit 1; }

# The RTSP tests run GStreamer's RTSP server (Debian's gst-rtsp-server, through Debian's own
# python3 and its GObject bindings) serving the test clip as H.264 on a free port.
RTSP_PACKAGES := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
rtsp:
	@/usr/bin/python3 tests/gst_rtsp_server.py --check 2>/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(RTSP_PACKAGES) >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(RTSP_PACKAGES) >/dev/null; fi; }
	@/usr/bin/python3 tests/gst_rtsp_server.py --check || { \
		echo "GStreamer's RTSP server is required for the RTSP tests: apt-get install $(RTSP_PACKAGES)"; exit 1; }

# Home Assistant Core in a throwaway virtualenv of its own (its pins are not ours): a test
# checks facerec's MQTT discovery configs with Home Assistant's own schemas, and adds the stream
# as its MJPEG IP Camera (tests/homeassistant/check_mjpeg.py).
homeassistant: $(HA_VENV)/.installed-stamp

$(HA_VENV)/.installed-stamp: tests/homeassistant/requirements.txt
	@test -x $(HA_VENV)/bin/python || $(PYTHON) -m venv $(HA_VENV)
	$(HA_VENV)/bin/python -m pip install --quiet --no-compile --no-deps -r tests/homeassistant/requirements.txt
	$(HA_VENV)/bin/python -m pip check
	@touch $@

# The suite on PYTEST_WORKERS processes at once (pytest-xdist): most tests wait on servers,
# browsers and the clip's pace rather than on the CPU, so four keep two cores busy.
# worksteal hands each worker a run of tests and lets an idle one take over another's rest.
# PYTEST_WORKERS=0 runs it in one process; a single file: .venv/bin/python -m pytest tests/test_x.py
PYTEST_WORKERS ?= 4
# The project's virtualenv and Home Assistant's are made side by side: each pip install keeps
# about one core busy, so on a fresh clone the two take the time of the longer one.
venvs:
	@$(MAKE) --no-print-directory install & main=$$!; \
	$(MAKE) --no-print-directory homeassistant; ha=$$?; wait $$main && exit $$ha

# The suite starts hundreds of Python processes (servers, engine workers, commands): each
# compiles facerec's modules only once it may keep the bytecode, so an environment that says
# not to (PYTHONDONTWRITEBYTECODE) is overruled for the suite (__pycache__ is ignored by git).
test: venvs chromium postgresql mosquitto nginx prometheus rtsp
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: install rtsp
	@for script in bench/*.py; do \
		[ "$$script" = bench/common.py ] && continue; \
		echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

# The documentation site (MkDocs, Material theme) from docs/ into site/; tests/test_docs.py
# builds it with --strict in `make test`. DOCS_PORT for the preview server.
DOCS_PORT ?= 8001
export NO_MKDOCS_2_WARNING := 1

docs: install
	$(BIN)/python -m mkdocs build --strict

docs-serve: install
	$(BIN)/python -m mkdocs serve --dev-addr $(HOST):$(DOCS_PORT)

# The configuration reference's settings, rewritten from their declarations in config.py.
docs-config: install
	$(BIN)/python -m facerec.config_reference

lint: install
	$(BIN)/python -m ruff check facerec tests bench migrations wsgi.py
	$(BIN)/python -m ruff format --check facerec tests bench wsgi.py

clean:
	rm -rf $(VENV) $(HA_VENV) .pytest_cache .ruff_cache site
