# Todo AI Chatbot: images, Helm chart and the verification harness.
# `make help` lists the targets. Every target is safe to re-run.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PYTEST   := $(VENV)/bin/pytest
CHART    := chart/todo-chatbot
FRONTEND := images/frontend
HELM      = $(shell scripts/install-helm.sh)
# Go's own installer puts it in /usr/local/go/bin, which is not always on PATH (Helm, the pod shim
# and the local cluster are built with it).
ifeq ($(shell command -v go),)
  export PATH := $(PATH):/usr/local/go/bin
endif
# The cluster tier's target: auto (kind, else the local cluster built here, when this machine can
# run one), kind, local, context:NAME (a context of yours, used only when named) or none.
CLUSTER ?= auto
# The image tag: $IMAGE_TAG, else the chart's appVersion so `helm install` finds the images
# (harness.images.image_tag, the one place; `python -m harness.images tag` prints it).

.PHONY: help system setup venv helm scanners lock frontend-deps frontend-checks chart-docs test test-backend test-frontend static policy images bench-backend bench-backend-cpu bench-images \
        test-runtime test-cluster up status down load bench-load bench-frontend acceptance report ai-manifests deploy undeploy diagnose clean mutate

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# --- set-up ---------------------------------------------------------------------
# The harness's and the backend's test environment, exactly as locked (with hashes): the backend's
# run-time packages at the versions its image ships (requirements-dev.lock is compiled under
# images/backend/requirements.lock; verification/unit/test_locks.py fails when they drift).
LOCK := requirements-dev.lock
$(VENV)/.installed: pyproject.toml images/backend/pyproject.toml $(LOCK) images/backend/requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e . -e ./images/backend
	@touch $@

$(FRONTEND)/node_modules/.installed: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	@touch $@

# Without the Node.js the frontend needs, its packages and checks are skipped with one line saying
# what to install (scripts/node-ok.sh), fatal only when REQUIRE_TIERS names app.
frontend-deps: ## The frontend's node_modules (npm ci), when Node.js ^20.19 or >= 22.12 is there
	@scripts/node-ok.sh; rc=$$?; if [ $$rc = 0 ]; then $(MAKE) --no-print-directory $(FRONTEND)/node_modules/.installed; elif [ $$rc != 3 ]; then exit $$rc; fi

system: ## System packages the tiers need (Docker engine, PostgreSQL, Chromium, Go, …; installed as root with apt, else listed with their install command: their tiers skip, fatal only for tiers REQUIRE_TIERS names) and start Docker
	@scripts/setup-system.sh

setup: system venv frontend-deps helm scanners ## Everything: system packages, .venv, Python and npm packages, Helm, kube-score, Checkov (idempotent; SYSTEM_SETUP=skip to go on without system packages)

# What one tier's targets need, and only that: the static tier needs Python and Helm; the Docker
# targets add an engine (scripts/ensure-docker.sh). A piece that cannot be installed here is named
# with its install command and its tests skip (they fail under REQUIRE_TIERS).
venv: $(VENV)/.installed ## The harness's virtualenv (.venv) only

helm: ## Helm: the one on PATH, else built with Go into ~/.cache/todo-chatbot/bin (scripts/install-helm.sh)
	@scripts/install-helm.sh >/dev/null || echo "helm: not installed (above); the tiers that render the chart skip" >&2

scanners: ## kube-score (built with Go, pinned) and Checkov (its own virtualenv: its pins clash with pytest's) for the static tier
	@scripts/install-kube-score.sh >/dev/null || echo "scanners: kube-score not installed (above); its static tests skip" >&2
	@PYTHON=$(PYTHON) scripts/install-checkov.sh >/dev/null || echo "scanners: Checkov not installed (above); its static tests skip" >&2

UV_VERSION ?= 0.13.8
lock: ## Recompile requirements-dev.lock (the harness and the backend's tests, hashes, every platform) after a change of either pyproject.toml; the backend's own lock: images/backend/README.md
	@test -x .cache/uv/bin/uv || { $(PYTHON) -m venv .cache/uv && .cache/uv/bin/pip install -q 'uv==$(UV_VERSION)'; }
	.cache/uv/bin/uv pip compile --native-tls pyproject.toml images/backend/pyproject.toml --extra test --universal \
	  --python-version 3.11 --generate-hashes --no-header -c images/backend/requirements.lock -o $(LOCK)

# --- tests ----------------------------------------------------------------------
test: setup test-frontend ## Run every test: frontend checks, then the pytest suite, every tier this machine can run (CLUSTER=auto|kind|local|context:NAME|none)
	$(PYTEST) --cluster=$(CLUSTER)

test-backend: venv ## Only the backend's own tests (PostgreSQL's server binaries: PG_BINDIR=… when not found)
	$(PYTEST) images/backend/tests

test-frontend: ## Frontend lint, typecheck and unit tests (skipped, saying why, without Node.js)
	@scripts/node-ok.sh; rc=$$?; if [ $$rc = 0 ]; then $(MAKE) --no-print-directory frontend-checks; elif [ $$rc != 3 ]; then exit $$rc; fi

frontend-checks: $(FRONTEND)/node_modules/.installed
	cd $(FRONTEND) && npm run lint && npm run typecheck && npm test

static: venv helm scanners ## Only the static tier (chart, policy, kube-score and Checkov, Dockerfiles): needs Python and Helm only
	$(PYTEST) verification/static

chart-docs: $(VENV)/.installed ## Regenerate the chart's values.schema.json and README parameter tables from values.yaml's comments
	$(PY) chart/tools/values_schema.py > $(CHART)/values.schema.json
	$(PY) chart/tools/readme_params.py --write
	@git diff --stat -- $(CHART)/values.schema.json $(CHART)/README.md

policy: venv ## Check any manifest against the chart's deployment policy: make policy FILES="draft.yaml ..."
	@test -n "$(FILES)" || { echo 'usage: make policy FILES="a.yaml b.yaml"   (python -m harness.kube.policy --rules lists the rules)'; exit 2; }
	$(PY) -m harness.kube.policy $(FILES)

test-runtime: venv helm ## Only the runtime tier: the chart's rendered pods on Docker (builds the images once)
	@scripts/ensure-docker.sh || true  # without an engine the tier skips, saying so
	$(PYTEST) verification/runtime

# --- images (harness/images/build.py: bases, BuildKit, CA secret, tags) ------------
# BASE_IMAGES=official|local forces the base images (default: official when pullable);
# CA_BUNDLE=path hands a CA bundle to the install steps as a BuildKit secret ('' for none).
.PHONY: base-images test-images
images: $(VENV)/.installed ## Build todo-backend and todo-frontend, tagged IMAGE_TAG or the chart's appVersion (local base images when none can be pulled); prints tags and sizes
	@scripts/ensure-docker.sh
	$(PY) -m harness.images build

base-images: $(VENV)/.installed ## Build (or reuse, cached by recipe hash) the local base images from Debian packages, incl. PostgreSQL
	@scripts/ensure-docker.sh
	$(PY) -m harness.images bases --mode local --postgres

test-images: venv ## Only the image tier: build both images, then size, user, ports, labels, secrets, health, bad env
	@scripts/ensure-docker.sh || true  # without an engine the tier skips, saying so
	$(PYTEST) verification/images

bench-images: $(VENV)/.installed ## Cold (no cache) and warm (source-only change) build time and size of each image (CPU heavy)
	@scripts/ensure-docker.sh
	$(PY) -m harness.images bench $(if $(WITH_BASES),--with-bases)

# --- the local stack (runtime tier) for people and Locust ---------------------------
UI_PORT ?= 8080
export UI_PORT
up: venv helm ## The whole app on Docker from the rendered chart; prints "UI: http://127.0.0.1:$(UI_PORT)"
	@scripts/ensure-docker.sh
	$(PY) -m harness.stack up --ui-port $(UI_PORT)

status: ## The `make up` stack's pods, their readiness and restarts, and the UI address
	@$(PY) -m harness.stack status

down: ## Remove everything `make up` created (containers, network, volumes), also after a failed run
	$(PY) -m harness.stack down

# --- load (load/: Locust scenario and budget gate, SC-004/SC-010) -----------------------
# Where the load runs: CLUSTER=kind|local|context:NAME|auto installs the chart on that cluster (a
# throwaway PostgreSQL beside it), samples the pods through the kubelet and uninstalls after
# (harness/deploy/load_target.py); without CLUSTER on the command line or in the environment, the
# Docker stack of `make up` (brought up if it is down). CLUSTER's default (auto) is the cluster
# tier's, not the load run's.
LOAD_CLUSTER = $(if $(filter file,$(origin CLUSTER)),none,$(CLUSTER))
STACK_UP_IF_DOWN = $(PY) -m harness.stack url >/dev/null 2>&1 || $(PY) -m harness.stack up --ui-port $(UI_PORT)
ON_CLUSTER = $(PY) -m harness.deploy.load_target --cluster=$(LOAD_CLUSTER) --
# LOAD_ARGS passes Locust flags to the SC-004 run, e.g. LOAD_ARGS="--users 200 --run-time 1m"; the web
# UI: `.venv/bin/locust -f load/ --host http://127.0.0.1:$(UI_PORT)`. After it, the budget run (SC-010)
# measures the application with its limits lifted for LOAD_BUDGET_RUN_TIME (a limit caps usage, so the
# first run cannot show the budget; load/README.md); LOAD_BUDGET_RUN_TIME= (empty) leaves SC-010 unjudged.
LOAD_BUDGET_RUN_TIME ?= 70s
load: venv helm ## 100 users for 3 min at the chart's limits, then 70 s with the limits lifted (the budget), against the stack or the chart on CLUSTER=…; gate in the exit code, figures in reports/load/
	@scripts/ensure-docker.sh
ifeq ($(LOAD_CLUSTER),none)
	@$(STACK_UP_IF_DOWN)
endif
	$(PY) -m harness.deploy.load_target --cluster=$(LOAD_CLUSTER) --budget-run-time '$(LOAD_BUDGET_RUN_TIME)' -- \
	  $(VENV)/bin/locust --config load/locust.conf --host '{url}' $(LOAD_ARGS)

bench-load: venv helm ## Stepped load (100, 150, 225 … users, 60 s at full load each) on the stack or CLUSTER=…: req/s, p95, CPU ms per request per service a step, and the user count where signed-in p95 crosses 1 s or errors appear
	@scripts/ensure-docker.sh
ifeq ($(LOAD_CLUSTER),none)
	@$(STACK_UP_IF_DOWN)
	$(PY) scripts/load_capacity.py $(LOAD_ARGS)
else
	$(ON_CLUSTER) $(PY) scripts/load_capacity.py --host '{url}' $(LOAD_ARGS)
endif

# --- sign-off -------------------------------------------------------------------
acceptance: setup ## Every stage (images, bench-images, apps, static and docs, the static seeded defects, image, runtime, cluster on CLUSTER=auto, load), then reports/acceptance.html and .md; non-zero on a failed stage, any FAIL, STALE or UNCOVERED, and NOT RUN where every tier could run; a stage whose inputs did not change since it passed is reused (FORCE=1 reruns all)
	@scripts/ensure-docker.sh || echo "acceptance: no Docker engine: the image, runtime and load stages will be NOT RUN"
	$(PY) -m verification.acceptance --cluster=$(CLUSTER) $(if $(filter-out 0,$(FORCE)),--force)

report: ## Rebuild reports/acceptance.html and .md from the last acceptance run against the tree as it is now (results of another tree are STALE)
	$(PY) -m verification.acceptance --only-report

# --- mutation testing (harness/mutation, verification/mutants.yaml) ---------------------------
# TIER=static|image|runtime|cluster picks the mutants of one tier (static includes docs); ONLY=id,…
# names mutants; WORKERS=2 runs that many at once; STRICT=1 exits 3 when one goes undetected (CI).
# Chart mutants of the cluster tier run on CLUSTER (local, kind, context:NAME). Scratch copies,
# namespaces and mutant images (in Docker and in the cluster) are removed.
mutate: $(VENV)/.installed ## Seeded defects against the suite: one line per mutant, the score, reports/mutation.json (TIER=static|image|runtime|cluster, ONLY=id,…)
	@$(if $(filter static,$(TIER)),true,scripts/ensure-docker.sh)
	$(PY) -m harness.mutation $(if $(TIER),--tier $(TIER)) $(if $(ONLY),--only $(ONLY)) $(if $(WORKERS),--workers $(WORKERS)) $(if $(filter-out auto none,$(CLUSTER)),--cluster=$(CLUSTER)) $(if $(STRICT),--strict)

signoff: $(VENV)/.installed ## Sign a MANUAL requirement off after following its checklist: make signoff ID=US4-2 RESULT=pass|fail NOTE="what you checked and saw"
	@test -n "$(ID)" -a -n "$(RESULT)" || { echo 'usage: make signoff ID=US4-2 RESULT=pass|fail NOTE="what you checked and saw"'; exit 2; }
	$(PY) -m verification.signoff --id "$(ID)" --result "$(RESULT)" --note "$(NOTE)"

# --- a real cluster (Minikube, Docker Desktop, kind) -----------------------------------
deploy: venv ## Load the images into KUBE_CONTEXT and helm install there (DATABASE_URL, JWT_SECRET from the environment or .env, checked first; VALUES=file, ENV_FILE=file)
	scripts/deploy.sh

undeploy: ## helm uninstall the release from KUBE_CONTEXT
	scripts/undeploy.sh

test-cluster: venv helm ## The cluster tier: CLUSTER=auto (default), kind (throwaway; KEEP_CLUSTER=1 keeps it), local or context:minikube
	$(PYTEST) verification/cluster --cluster=$(CLUSTER) $(if $(KEEP_CLUSTER),--keep-cluster)

.PHONY: cluster-up cluster-down
cluster-up: venv helm ## Start the single-node cluster built here from upstream sources (host processes); prints its kubeconfig
	@scripts/setup-system.sh --for cluster
	@$(PY) -m harness.localk8s up

cluster-down: venv ## Stop the local cluster; removes its processes, mounts, todo0 bridge, its iptables chains and state; restores the kernel settings it changed
	@$(PY) -m harness.localk8s down

diagnose: ## Pods' states, events, last logs, cause and fix (read-only; KUBE_CONTEXT=… NAMESPACE=… to choose)
	$(PY) -m harness.diagnose $(if $(KUBE_CONTEXT),--context $(KUBE_CONTEXT)) $(if $(NAMESPACE),-n $(NAMESPACE))

ai-manifests: venv helm ## Ask kubectl-ai for the Deployments and compare its drafts with the chart (says how to install it when missing)
	$(PY) -m harness.ai_manifests

# --- benchmarks -----------------------------------------------------------------
bench-backend: venv ## Requests/s and latency of the backend at 50 concurrent clients
	$(PY) images/backend/bench/bench_backend.py

bench-frontend: venv $(FRONTEND)/node_modules/.installed ## The frontend's CPU ms per proxied API request (production build, real backend, Locust with load/todo_user.py); PROFILE=dir also writes and summarises V8 CPU profiles
	cd $(FRONTEND) && npm run build
	$(PY) $(FRONTEND)/bench/bench_frontend.py $(if $(PROFILE),--cpu-prof $(PROFILE))
	$(if $(PROFILE),node $(FRONTEND)/bench/cpuprofile_top.mjs $(PROFILE))

bench-backend-cpu: venv ## Backend CPU ms per request per endpoint, and a sign-up burst's p95 under a 400m CPU limit
	$(PY) images/backend/bench/bench_cpu.py

clean: ## Remove the virtualenv, node_modules and reports
	rm -rf $(VENV) $(FRONTEND)/node_modules $(FRONTEND)/.next reports
