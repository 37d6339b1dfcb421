# One-command set-up: `make demo` and `make test` install whatever is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.14.1
TORCHVISION_VERSION ?= 0.29.1
MMCV_VERSION ?= 2.1.0
# torch's build: empty takes PyPI's default (the newest CUDA, e.g. +cu130, which
# needs a driver >= 580); cu126, cu128, cpu, ... take that build from PyTorch's
# index (e.g. `make install TORCH_CUDA=cu126` on a CUDA 12 driver).
TORCH_CUDA ?=
TORCH_INDEX := $(if $(TORCH_CUDA),--index-url https://download.pytorch.org/whl/$(TORCH_CUDA),)
STAMP := $(VENV)/.installed$(if $(TORCH_CUDA),-$(TORCH_CUDA),)
# timm is the reference of one test (tests/test_utils/test_vit_weights.py) and
# lives off the import path: mmseg imports it whenever it can, 1.5 s of CPU in
# every process that imports mmseg.models (each tool the suite starts).
TIMM_VERSION ?= 1.0.31
TIMM_DIR := $(VENV)/reference

.PHONY: install test lint demo gpu-check clean-venv mmcv

# mmcv 2.1.0 with its ops, built from source: mmseg 1.2.2 needs mmcv.ops and
# refuses mmcv >= 2.2. Its setup.py pins -std=c++14/17, but torch >= 2.10's
# headers need C++20, so the flag is raised before building. Wheels are kept
# in $(WHEELHOUSE) under the tag of what they were built for (torch release,
# CUDA version or cpu: tools/misc/mmcv_build_tag.py), so a new venv on the same
# machine installs the right one in seconds and a CPU build never lands where
# CUDA ops are wanted. FORCE_CUDA=1 builds CUDA ops, FORCE_CUDA=0 CPU ops
# (GPUs hidden from the build), unset: CUDA when torch sees a GPU. CUDA builds
# get TORCH_CUDA_ARCH_LIST (yours, else the visible GPUs', else a default list,
# so a build node without a GPU works); MAX_JOBS defaults to the machine's cores
# (nproc without OMP_NUM_THREADS, which nproc would otherwise obey).
WHEELHOUSE ?= $(HOME)/.cache/apc_mmseg/wheels
MMCV_TAG_SCRIPT := tools/misc/mmcv_build_tag.py

install: $(STAMP)

# The stamp depends on what defines the environment, so a second call is a no-op.
$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip "setuptools<81" wheel ninja
	$(PIP) install -q torch==$(TORCH_VERSION) torchvision==$(TORCHVISION_VERSION) $(TORCH_INDEX)
	$(PY) $(MMCV_TAG_SCRIPT) --check-torch "$(TORCH_CUDA)"
	MMCV_VERSION=$(MMCV_VERSION) $(PY) $(MMCV_TAG_SCRIPT) --check-installed || \
		$(MAKE) --no-print-directory mmcv
	$(PIP) install -q -r requirements.txt -r requirements-dev.txt
	$(PIP) install -q --no-deps --upgrade --target $(TIMM_DIR) timm==$(TIMM_VERSION)
	MMCV_VERSION=$(MMCV_VERSION) $(PY) $(MMCV_TAG_SCRIPT) --check-installed
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

# pytest-xdist processes (one per core, at most 4) at one torch thread each: most
# tests wait on tool processes of their own, so the cores stay busy (11.8 -> 5.4
# min here, BENCHMARKS.md).
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest tests -q -n auto --maxprocesses 4 --dist worksteal

# ruff (ruff.toml): pyflakes, pycodestyle at 100 columns, import order.
lint: install
	$(PY) -m ruff check .

# The main job: generate the demo data, train on CPU from image tags, evaluate
# against baselines, draw heat maps and overlays (tools/demo.py).
demo: install
	$(PY) tools/demo.py --data data/demo --work-dir work_dirs/demo

# The GPU path in one command (tools/analysis_tools/gpu_check.py): CUDA tests, 300 --amp
# iterations, dist_train + resume, dist_test --out, benchmark --amp, a verdict
# table. Without CUDA it says so and exits 0.
gpu-check: install
	$(PY) tools/analysis_tools/gpu_check.py

clean-venv:
	rm -rf $(VENV)

mmcv:
	@set -e; export MMCV_VERSION=$(MMCV_VERSION); tag=$$($(PY) $(MMCV_TAG_SCRIPT)); \
	archs=$$($(PY) $(MMCV_TAG_SCRIPT) --arch-list); \
	dir=$(WHEELHOUSE)/mmcv-$(MMCV_VERSION)/$$tag; \
	if ! ls $$dir/mmcv-$(MMCV_VERSION)-*.whl >/dev/null 2>&1; then \
		case $$tag in *-cpu-*) cuda=0; export CUDA_VISIBLE_DEVICES=;; \
			*) cuda=1; export TORCH_CUDA_ARCH_LIST="$$archs";; esac; \
		echo "building mmcv $(MMCV_VERSION) for $$tag (about 10 minutes on 2 cores)"; \
		tmp=$$(mktemp -d); \
		$(PIP) download -q --no-deps --no-binary :all: --no-build-isolation -d $$tmp mmcv==$(MMCV_VERSION); \
		tar xzf $$tmp/mmcv-$(MMCV_VERSION).tar.gz -C $$tmp; \
		sed -i 's/-std=c++1[47]/-std=c++20/g' $$tmp/mmcv-$(MMCV_VERSION)/setup.py; \
		mkdir -p $$dir; \
		MMCV_WITH_OPS=1 FORCE_CUDA=$$cuda MAX_JOBS=$${MAX_JOBS:-$$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)} \
			$(PIP) wheel --no-deps --no-build-isolation -w $$dir $$tmp/mmcv-$(MMCV_VERSION); \
		rm -rf $$tmp; \
	fi; \
	$(PIP) install -q --no-deps --force-reinstall $$dir/mmcv-$(MMCV_VERSION)-*.whl; \
	$(PY) $(MMCV_TAG_SCRIPT) --check-installed --allow-missing-deps
