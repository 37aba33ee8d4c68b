# The README's short commands; CMake does the building.
BUILD ?= build
CMAKE_FLAGS ?=
LUA_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" \
          LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;"

.PHONY: all setup build demo test bench check-asan check-valgrind fuzz clean

all: build

setup:
	@./scripts/setup

build: setup
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j2

demo: build
	@$(LUA_ENV) lua5.4 examples/seats.lua

test: build
	@cd $(BUILD) && ctest --output-on-failure -j2

bench: build
	@cmake --build $(BUILD) --target bench_allow -j2
	@$(LUA_ENV) $(BUILD)/tests/bench/bench_allow
	@$(LUA_ENV) lua5.4 tests/bench/bench_allow.lua

clean:
	rm -rf $(BUILD) build-asan build-fuzz
