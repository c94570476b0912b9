# 备案助手 — `make run` to talk to it, `make test` to prove it. `make` alone lists the targets.
SHELL := /bin/bash
PY_VERSION := $(shell cat .python-version)
PYENV_PY := $(HOME)/.pyenv/versions/$(PY_VERSION)/bin/python
BASE_PY := $(shell if [ -x "$(PYENV_PY)" ]; then echo "$(PYENV_PY)"; else command -v python$(basename $(PY_VERSION)) || command -v python3.10; fi)
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/current.tar.gz
# Everything a trained model depends on: change any of these and `make train` retrains.
MODEL_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' ! -name faq.yml 2>/dev/null) \
	data/nlu/faq.yml $(wildcard bot/nlu/*.py bot/nlu/dict/*)

.DEFAULT_GOAL := help
.PHONY: help install browser nginx run prod test check lint train faq eval crossval bench loadtest validate lock clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt .python-version
	@test -n "$(BASE_PY)" || { echo "Python $(PY_VERSION) not found (pyenv install $(PY_VERSION))"; exit 1; }
	@test -x $(PY) || $(BASE_PY) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed ## create .venv with the pinned dependencies

# The browser tests drive Debian's Chromium with Playwright (no browser download at run time);
# a CJK font makes the screenshots of Chinese conversations legible.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM) $(CJK_FONT):
	@command -v apt-get >/dev/null || { echo "install chromium and fonts-wqy-microhei for the browser tests"; exit 1; }
	$(SUDO) apt-get install -y --no-install-recommends chromium fonts-wqy-microhei >/dev/null \
	  || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-wqy-microhei >/dev/null; }

browser: $(CHROMIUM) $(CJK_FONT) ## install Debian's Chromium (and a CJK font) for the browser tests

# nginx in front of the Rasa replicas (`make prod`, tests/production, the load test) runs
# deploy/nginx.conf itself, unprivileged, from a temporary prefix: only the binary is needed.
NGINX := /usr/sbin/nginx
$(NGINX):
	@command -v apt-get >/dev/null || { echo "install nginx (Debian's package) for make prod and the production tests"; exit 1; }
	$(SUDO) apt-get install -y --no-install-recommends nginx >/dev/null \
	  || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends nginx >/dev/null; }

nginx: $(NGINX) ## install Debian's nginx (the production shape's front, run from deploy/nginx.conf)

data/nlu/faq.yml: $(wildcard faq/*.yml) | $(VENV)/.installed
	$(PY) -m bot faq build

faq: data/nlu/faq.yml ## compile faq/ into data/nlu/faq.yml

$(MODEL): $(MODEL_INPUTS) requirements.txt | $(VENV)/.installed
	@start=$$(date +%s); \
	$(RASA) train --fixed-model-name training --out models && \
	mv models/training.tar.gz $(MODEL) && \
	echo "training took $$(( $$(date +%s) - start )) s" | tee models/train_seconds.txt

train: $(MODEL) ## train the model, only when an input changed

# The embedded default database: created with the demo orders the first time (DATABASE_URL unset).
var/app.db: | $(VENV)/.installed
	$(PY) -m bot db init
	$(PY) -m bot orders import data/demo/orders.csv

run: $(MODEL) var/app.db ## install, train if needed, and serve on :5005 (actions on :5055)
	$(PY) -m bot serve --model $(MODEL)

# The production shape on this machine: settings from .env.example, then .env (PostgreSQL, Redis).
PROD_ENV := set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a

prod: $(MODEL) $(NGINX) ## production shape: PostgreSQL + Redis, N Rasa replicas + actions behind nginx on :5005
	@$(PROD_ENV); $(PY) -m bot serve --check --replicas $${RASA_REPLICAS:-2} && \
	  $(PY) -m bot db init && $(PY) -m bot orders import data/demo/orders.csv && \
	  $(PY) -m bot serve --model $(MODEL) --replicas $${RASA_REPLICAS:-2}

test: $(MODEL) $(CHROMIUM) $(CJK_FONT) $(NGINX) ## install, train if needed, and run the whole test suite
	$(PY) -m pytest

# The fast loop: no training, no browser. Tests that need the trained model or Chromium are marked
# needs_model / needs_browser by tests/conftest.py and left to `make test`.
check: lint data/nlu/faq.yml ## lint, then every test that needs no trained model and no Chromium (< 3 min)
	$(PY) -m pytest -q -m "not needs_model and not needs_browser"

lint: $(VENV)/.installed ## ruff (lint, import order) and mypy on bot/ and actions/ (configured in pyproject.toml)
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

validate: install faq ## rasa data validate
	$(RASA) data validate --fail-on-warnings

eval: $(MODEL) ## held-out accuracy (tests/heldout) and conversation success (tests/conversations)
	$(PY) -m bot eval --model $(MODEL)
	$(PY) -m bot eval --conversations --model $(MODEL)

crossval: install faq ## rasa test nlu, 3-fold cross-validation on the training data (slow: 3 trainings)
	$(RASA) test nlu --nlu data/nlu --config config.yml --cross-validation --folds 3 --out results/crossval

bench: $(MODEL) ## latency/throughput/memory through REST: FAQ turns, then complete order lookups
	$(PY) -m bot bench --model $(MODEL)
	$(PY) -m bot bench --model $(MODEL) --flow orders --messages 200

loadtest: $(MODEL) $(NGINX) ## 50 simulated users, mixed conversations, embedded then production shape (prints figures)
	$(PY) -m bot loadtest --model $(MODEL)

lock: install ## refreeze requirements.txt from requirements.in
	$(PY) -m pip install --quiet -r requirements.in
	{ echo "# GENERATED by \`make lock\` from requirements.in: every package pinned. Install with \`make install\`."; \
	  $(PY) -m pip freeze; } > requirements.txt

clean: ## remove trained models and local databases (keeps .venv)
	rm -rf models var results .pytest_cache
