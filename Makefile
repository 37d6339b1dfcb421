# One-command set-up: `make demo` and `make test` install whatever is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.14.1
TORCHVISION_VERSION ?= 0.29.1
MMCV_VERSION ?= 2.1.0
STAMP := $(VENV)/.installed

.PHONY: install test demo clean-venv mmcv

# mmcv 2.1.0 with its ops, built from source: mmseg 1.2.2 needs mmcv.ops and
# refuses mmcv >= 2.2. Its setup.py pins -std=c++14/17, but torch >= 2.10's
# headers need C++20, so the flag is raised before building. The wheel is kept
# in $(WHEELHOUSE), so a new venv on the same machine installs it in seconds.
WHEELHOUSE ?= $(HOME)/.cache/apc_mmseg/wheels
MMCV_WHEEL = $(wildcard $(WHEELHOUSE)/mmcv-$(MMCV_VERSION)-*.whl)

install: $(STAMP)

# The stamp depends on what defines the environment, so a second call is a no-op.
$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip "setuptools<81" wheel ninja
	$(PIP) install -q torch==$(TORCH_VERSION) torchvision==$(TORCHVISION_VERSION)
	$(PY) -c "import mmcv.ops" 2>/dev/null || $(MAKE) --no-print-directory mmcv
	$(PIP) install -q -r requirements.txt -r requirements-dev.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $(STAMP)

test: install
	$(PY) -m pytest tests -q

# The main job: generate the demo data, train on CPU from image tags, evaluate
# against baselines, draw heat maps and overlays (tools/demo.py).
demo: install
	$(PY) tools/demo.py --data data/demo --work-dir work_dirs/demo

clean-venv:
	rm -rf $(VENV)

mmcv:
	@if [ -z "$(MMCV_WHEEL)" ]; then \
		set -e; tmp=$$(mktemp -d); \
		$(PIP) download -q --no-deps --no-binary :all: --no-build-isolation -d $$tmp mmcv==$(MMCV_VERSION); \
		tar xzf $$tmp/mmcv-$(MMCV_VERSION).tar.gz -C $$tmp; \
		sed -i 's/-std=c++1[47]/-std=c++20/g' $$tmp/mmcv-$(MMCV_VERSION)/setup.py; \
		mkdir -p $(WHEELHOUSE); \
		MMCV_WITH_OPS=1 FORCE_CUDA=$${FORCE_CUDA:-0} MAX_JOBS=$${MAX_JOBS:-2} \
			$(PIP) wheel --no-deps --no-build-isolation -w $(WHEELHOUSE) $$tmp/mmcv-$(MMCV_VERSION); \
		rm -rf $$tmp; \
	fi
	$(PIP) install -q --no-deps $(WHEELHOUSE)/mmcv-$(MMCV_VERSION)-*.whl
