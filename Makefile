# The README's short commands; CMake does the building.
BUILD ?= build
CMAKE_FLAGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
LUA_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" \
          LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;"

# $(call compile,FLAGS): configures $(BUILD) with FLAGS, then builds it.
compile = @cmake -S . -B $(BUILD) $(1) $(CMAKE_FLAGS) >/dev/null && \
          cmake --build $(BUILD) -j2
# The test targets ask for the whole suite explicitly: $(BUILD) may have
# been configured by `make demo` (tests off, and LuaJIT off when it was not
# installed yet).
TEST_FLAGS = -DLIMITR_BUILD_TESTS=ON -DLIMITR_WITH_LUAJIT=ON

.PHONY: all setup setup-demo build demo install test bench bench-openresty check-asan \
        check-valgrind fuzz clean

all: build

# Everything the tests need (scripts/setup), or only what building and the
# demo need (scripts/setup demo).
setup:
	@./scripts/setup

setup-demo:
	@./scripts/setup demo

build: setup-demo
	$(call compile,)

demo: setup-demo
	$(call compile,-DLIMITR_BUILD_TESTS=OFF)
	@$(LUA_ENV) lua5.4 examples/seats.lua

# make install [PREFIX=/usr/local] [DESTDIR=...]: the C library, limitr.h,
# limitr.pc, the CMake package and the Lua module (cmake/install.cmake).
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

test: setup
	$(call compile,$(TEST_FLAGS))
	@cd $(BUILD) && ctest --output-on-failure -j2

LUAJIT_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" \
             LUA_CPATH="$(CURDIR)/$(BUILD)/luajit/?.so;;"

bench: setup
	$(call compile,$(TEST_FLAGS))
	@cmake --build $(BUILD) --target bench_allow bench_create ffi_counter -j2
	@$(LUA_ENV) $(BUILD)/tests/bench/bench_allow
	@$(LUA_ENV) lua5.4 tests/bench/bench_allow.lua
	@if [ -f $(BUILD)/luajit/limitr/core.so ]; then \
	    LIMITR_FFI_COUNTER=$(CURDIR)/$(BUILD)/tests/bench/libffi_counter.so \
	    $(LUAJIT_ENV) luajit tests/bench/bench_allow.lua; fi
	@$(LUA_ENV) lua5.4 tests/bench/bench_logic.lua
	@$(LUA_ENV) lua5.4 tests/bench/bench_economy.lua
	@$(LUA_ENV) lua5.4 tests/bench/bench_state.lua
	@$(LUA_ENV) lua5.4 tests/bench/bench_store.lua
	@if [ -f $(BUILD)/luajit/limitr/core.so ]; then \
	    $(LUAJIT_ENV) luajit tests/bench/bench_logic.lua; fi
	@$(BUILD)/tests/bench/bench_create
	@$(LUA_ENV) lua5.4 tests/bench/bench_create.lua
	@if [ -f $(BUILD)/luajit/limitr/core.so ]; then \
	    $(LUAJIT_ENV) luajit tests/bench/bench_create.lua; fi

# nginx with 2 workers on one limitr.shared engine, beside no limiter and a
# lua_shared_dict counter (tests/bench/openresty.sh; wrk from scripts/setup).
bench-openresty: setup
	$(call compile,$(TEST_FLAGS))
	@sh tests/bench/openresty.sh $(CURDIR) $(CURDIR)/$(BUILD)

# The whole ctest suite (C tests, replays, busted specs) under ASan + UBSan.
check-asan: setup
	@cmake -S . -B build-asan -DLIMITR_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j2
	@cd build-asan && ctest --output-on-failure -j2

# Every C test binary, the C example and the fuzz replays under valgrind;
# fails on any memory error or definite/indirect leak.
VALGRIND = valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
           --error-exitcode=1
check-valgrind: setup
	$(call compile,$(TEST_FLAGS))
	@fail=0; \
	for t in $(BUILD)/test_* $(BUILD)/seats; do \
	    [ -x "$$t" ] || continue; \
	    echo "valgrind $$t"; \
	    $(VALGRIND) $$t >/dev/null || { echo "FAILED: $$t"; fail=1; }; \
	done; \
	for f in yaml json; do \
	    echo "valgrind $(BUILD)/tests/fuzz/fuzz_$${f}_replay"; \
	    $(VALGRIND) $(BUILD)/tests/fuzz/fuzz_$${f}_replay tests/fuzz/corpus/$$f \
	        >/dev/null || { echo "FAILED: fuzz_$${f}_replay"; fail=1; }; \
	done; \
	[ $$fail -eq 0 ] && echo "check-valgrind: no errors" || exit 1

# libFuzzer with clang in build-fuzz: each target runs FUZZ_SECONDS on a
# scratch corpus (build-fuzz/corpus/<fmt>) seeded from tests/fuzz/corpus, in
# fork mode so that it goes on after a crash. Crashing and hanging inputs land
# in build-fuzz/findings/<fmt>/ and are replayed once to print their report.
FUZZ_SECONDS ?= 60
fuzz: setup
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DLIMITR_FUZZ=ON \
	    -DLIMITR_BUILD_LUA=OFF -DLIMITR_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-fuzz --target fuzz_yaml fuzz_json -j2
	@fail=0; \
	for f in yaml json; do \
	    bin=build-fuzz/tests/fuzz/fuzz_$$f; out=build-fuzz/findings/$$f; \
	    rm -rf $$out; mkdir -p $$out build-fuzz/corpus/$$f; \
	    cp tests/fuzz/corpus/$$f/* build-fuzz/corpus/$$f/; \
	    echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	    $$bin -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -dict=tests/fuzz/policy.dict -artifact_prefix=$$out/ \
	        build-fuzz/corpus/$$f >build-fuzz/fuzz_$$f.log 2>&1; \
	    grep '^#[0-9]' build-fuzz/fuzz_$$f.log | tail -n 1; \
	    for a in $$out/*; do \
	        [ -f "$$a" ] || continue; \
	        fail=1; echo "FOUND $$a"; \
	        $$bin -timeout=10 $$a 2>&1 | grep -E -v \
	            '^(INFO|Running|Executed|NOTE|\*\*\*| +Combine)|fuzzer::|libc|\+0x[0-9a-f]+\) \(BuildId' \
	            | head -n 30; \
	    done; \
	done; \
	[ $$fail -eq 0 ] && echo "fuzz: no crash" || \
	    { echo "fuzz: crashes or hangs found (build-fuzz/findings)"; exit 1; }

clean:
	rm -rf $(BUILD) build-asan build-fuzz
