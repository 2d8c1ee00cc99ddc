# vmpy developer targets. `make test` is what CI runs (after scripts/setup.sh).
#
#   make build       editable build of vmpy._core in place
#   make test        the default suite (not slow), then the ASan/UBSan run
#   make test-fast   the default suite only
#   make test-slow   the slow tests only (long random streams, ...)
#   make asan        sanitized copy of the extension in build/asan, suite under it
#   make demo        scripts/demo.sh
PYTHON ?= python3
PYTEST ?= $(PYTHON) -m pytest
PYTEST_ARGS ?=
# Hangs: a test stuck inside the C core may never return to Python, nor let
# go of the GIL. pytest-timeout's watchdog thread ends the run when the GIL is
# free; faulthandler (a C thread) dumps every thread's stack regardless; and
# `timeout` kills the whole run as the last resort (exit 124 = failure).
PYTEST_TIMEOUT ?= 300
SUITE_TIMEOUT ?= 1500
ASAN_SUITE_TIMEOUT ?= 900
PYTEST_GUARD = --timeout=$(PYTEST_TIMEOUT) --timeout-method=thread \
	-o faulthandler_timeout=$(PYTEST_TIMEOUT)
# What the sanitized run covers; keep it well under ~8 minutes on 2 cores.
ASAN_TESTS ?= tests/test_api.py tests/test_fuzz_interp.py tests/test_elf.py tests/test_snapshot.py \
	tests/test_trace.py tests/test_jit.py tests/test_jit_cache.py tests/test_determinism.py tests/test_zbb_word.py \
	tests/test_interp_paths.py tests/test_fuzz_system.py tests/test_linux_user.py \
	tests/test_fuzz_signals.py
# Left out: the RSS test (ASan's quarantine holds freed memory on purpose) and
# the one trace test that needs capstone (it does not load under ASan).
ASAN_PYTEST_ARGS ?= -m "not slow" -k "not rss_flat and not test_disasm_and_pandas"

ASAN_DIR := $(CURDIR)/build/asan
ASAN_LIB := $(ASAN_DIR)/lib
# ASan's runtime must be the first library in the process (python itself is
# not instrumented), so it is preloaded; libubsan likewise, as gcc names them.
ASAN_PRELOAD = $(shell gcc -print-file-name=libasan.so):$(shell gcc -print-file-name=libubsan.so)

# The editable build recompiles everything (about a minute on 2 cores), so it
# runs only when a C source, header or the build script changed.
CORE_SOURCES := $(shell find csrc gdb tools/repl -name '*.[ch]' -o -name '*.cpp' 2>/dev/null) \
	setup.py pyproject.toml
CORE_STAMP := build/.core-stamp

.PHONY: all build test test-fast test-slow asan asan-build demo clean

all: build

build: $(CORE_STAMP)
	@$(PYTHON) -c 'import vmpy._core' 2>/dev/null || { rm -f $(CORE_STAMP); $(MAKE) --no-print-directory $(CORE_STAMP); }

$(CORE_STAMP): $(CORE_SOURCES)
	$(PYTHON) -m pip install -q --no-build-isolation -e .
	$(PYTHON) -c 'import vmpy._core'
	mkdir -p $(dir $@) && touch $@

test: test-fast asan

test-fast: build
	timeout -k 30 $(SUITE_TIMEOUT) $(PYTEST) -q -m "not slow" $(PYTEST_GUARD) $(PYTEST_ARGS)

test-slow: build
	$(PYTEST) -q -m slow $(PYTEST_GUARD) $(PYTEST_ARGS)

# A private copy of the package with the sanitized extension, so the normal
# in-place build is left alone. Rebuilt from scratch when sources change.
asan-build:
	rm -rf $(ASAN_LIB)/vmpy
	mkdir -p $(ASAN_LIB)
	cp -r vmpy $(ASAN_LIB)/vmpy
	rm -f $(ASAN_LIB)/vmpy/_core*.so
	find $(ASAN_LIB)/vmpy -name __pycache__ -prune -exec rm -rf {} +
	VMPY_SANITIZE=1 $(PYTHON) setup.py -q build_ext -j 2 \
		--build-temp $(ASAN_DIR)/tmp --build-lib $(ASAN_LIB)

# Runs from inside $(ASAN_LIB) with PYTHONSAFEPATH so that neither the
# checkout nor the editable install shadows the sanitized copy; the check
# below proves which extension was imported.
asan: asan-build
	cd $(ASAN_LIB) && \
	export PYTHONPATH=$(ASAN_LIB) PYTHONSAFEPATH=1 LD_PRELOAD=$(ASAN_PRELOAD) \
	       ASAN_OPTIONS=detect_leaks=0 \
	       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 && \
	$(PYTHON) -c 'import vmpy._core as c, sys; p = c.__file__; print("asan: using", p); sys.exit("$(ASAN_LIB)" not in p)' && \
	timeout -k 30 $(ASAN_SUITE_TIMEOUT) $(PYTEST) -q -p no:cacheprovider --rootdir=$(CURDIR) -c $(CURDIR)/pyproject.toml \
		$(PYTEST_GUARD) $(ASAN_PYTEST_ARGS) $(addprefix $(CURDIR)/,$(ASAN_TESTS))

demo: build
	./scripts/demo.sh

clean:
	rm -rf build *.egg-info vmpy/_core*.so
