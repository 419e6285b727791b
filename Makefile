# nicpool — thin wrapper over the npm scripts and the e2e tooling. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE := node_modules/.bin/node
JEST := $(NODE) --experimental-vm-modules node_modules/jest/bin/jest.js

.PHONY: help install components build typecheck lint format gen verify test test-unit test-e2e fuzz soak bench check-invariants cluster-up cluster-down cluster-status up down demo clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json ## Install npm dependencies (pins Node 24 into node_modules/.bin)

components: ## Build/fetch the real test components (etcd, kube-*, Multus, CNI plugins) into ~/.cache/nicpool
	bash e2e/cluster/build-components.sh

build: install ## Bundle the apps into apps/*/dist and the CNI shim into one executable (apps/cni-shim/dist/spiderpool)
	$(NODE) scripts/build.ts

typecheck: install ## Type-check everything with tsc
	node_modules/.bin/tsc -p tsconfig.json

lint: install ## ESLint (bugs, import direction) and Prettier (format)
	node_modules/.bin/eslint --max-warnings 0 .
	node_modules/.bin/prettier --check .

format: install ## Rewrite files in Prettier's format
	node_modules/.bin/prettier --write .

gen: install ## Regenerate deploy/ (CRDs, manifests, the Helm chart) from libs/crds and libs/manifests
	$(NODE) scripts/gen-crds.ts

verify: install ## Fail when a generated file under deploy/ (the Helm chart too) drifts from its source
	$(NODE) scripts/gen-crds.ts --check

test-unit: install ## Unit and integration tests (no cluster)
	$(JEST) --selectProjects unit

test-e2e: install components build images ## e2e tests against the real control plane, Multus and CNI plugins, and on a real kubelet node (root)
	$(JEST) --selectProjects e2e --runInBand

fuzz: install ## Property-based fuzzing at full size (>= 100 000 cases, random seed; FUZZ_SEED=n replays one); make test runs a fixed-seed sample
	NICPOOL_FUZZ=full $(JEST) --selectProjects unit --testPathPatterns '\.fuzz\.test\.ts$$'

soak: install components build ## Churn and faults on the simulator with the invariant checker watching → docs/reliability.md "Soak" (SOAK_MINUTES=30, SEED=random; make test runs 2 minutes, seed 20261201)
	$(NODE) e2e/soak/cli.ts --minutes $(or $(SOAK_MINUTES),30) --seed $(or $(SEED),random)

bench: install components build ## Benchmarks (not part of make test): B1–B4, the shim and veth side by side with their baselines → docs/benchmarks.md (BENCH=B1,B2,B3,B4,shim,veth runs some; QUICK=1 smaller sizes; B3=DxR Deployments × replicas)
	$(NODE) bench/run.ts $(if $(BENCH),--only $(BENCH)) $(if $(QUICK),--quick) $(if $(B3),--b3 $(B3))

check-invariants: install ## Check records <-> SpiderEndpoints <-> live pods, duplicates and counts on the cluster of $$KUBECONFIG (default: the local one)
	@$(NODE) e2e/harness/invariants.ts

test: install components typecheck lint verify test-unit test-e2e ## Everything: checks, unit and e2e tests

cluster-up: install components ## Start etcd, kube-apiserver, kube-controller-manager on loopback; prints export KUBECONFIG=…
	@$(NODE) e2e/cluster/cli.ts up

cluster-down: install ## Stop the processes cluster-up started and remove its files
	@$(NODE) e2e/cluster/cli.ts down

cluster-status: install ## Is the local control plane running?
	@$(NODE) e2e/cluster/cli.ts status

up: install components build ## Control plane + nicpool (webhook, controller, allocator, simulated node1) as local processes under their deploy/ ServiceAccounts (root); prints export KUBECONFIG=…
	@$(NODE) scripts/up.ts up

down: install ## Stop what make up started
	@$(NODE) scripts/up.ts down

# `make demo NODE=real`: NODE names the Node binary everywhere else, so the demo's choice of node
# (real or sim) is taken out of it before any recipe runs.
ifneq ($(filter real sim,$(NODE)),)
DEMO_NODE := $(NODE)
override NODE := node_modules/.bin/node
endif
demo: install components build $(if $(filter real,$(DEMO_NODE)),images) ## Replay the tutorial (root) on a local control plane with simulated pods; NODE=real: on the real kubelet node, nicpool from its image
	@$(NODE) scripts/$(if $(filter real,$(DEMO_NODE)),demo-real,demo).ts

.PHONY: node-up node-down
node-up: install components ## A real kubelet node (own control plane on 10.251.0.1, containerd, kubelet, kube-proxy, Multus; dist/images/*.oci.tar imported) (root); prints export KUBECONFIG=…
	@$(NODE) e2e/realnode/cli.ts up

node-down: install ## Stop the real node and restore the host (links, nft tables, mounts, cgroups, sysctls); also after a crash
	@$(NODE) e2e/realnode/cli.ts down

.PHONY: images
images: install build ## OCI archives of nicpool's image, the tutorial's busybox and nginx, and pause → dist/images/ (root; docs/images.md; IMAGES=nicpool,busybox,nginx,pause builds some, GZIP=1 gzips the layers)
	@$(NODE) scripts/images/cli.ts $(if $(IMAGES),--only $(IMAGES)) $(if $(GZIP),--gzip)

clean: ## Remove build output
	rm -rf apps/*/dist coverage
