# local-ai: one plain Makefile.
#   make          release build: build/local-ai and build/tests
#   make test     install missing dependencies, build, run every test (with a throwaway
#                 PostgreSQL on 127.0.0.1 for the database tests, scripts/pg-test)
#   make asan     the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make run      install missing dependencies, build, serve on 127.0.0.1:8080
#   make bench    build and run the benchmarks in bench/
#   make fuzz     build the libFuzzer targets (clang)
#   make clean
# Sources are found by pattern: src/<module>/*.c make the library, *_test.c and tests/*.c
# make the test binary, bench/*.c the benchmarks. Files named *_avx2.c / *_avx512.c are
# compiled for that instruction set only; run-time dispatch picks them.

CC      ?= cc
ARCH    := $(shell uname -m)
PKGS    := libmicrohttpd libpcre2-8 libcurl jansson yaml-0.1 libcrypto sqlite3 libpq \
           libavformat libavcodec libswresample libavutil pocketsphinx espeak-ng
BUILD   ?= build
MODE    ?= release

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread -g $(WARN) -Isrc -MMD -MP
ifeq ($(MODE),asan)
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN   := -fsanitize=address,undefined
else
OPT     := -O2
LDSAN   :=
endif
ifeq ($(ARCH),x86_64)
OPT     += -march=x86-64-v2
endif

# Recursive (=) on purpose: expanded when a recipe runs, i.e. after `deps` installed them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  = $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# Our library's symbols stay out of the dynamic symbol table: sphinxbase exports an err_msg
# of its own, and base.h's would otherwise interpose on it inside libsphinxbase.
LDLIBS  = $(PKG_LIBS) -lm -pthread $(LDSAN) -Wl,--exclude-libs,ALL

AVX2_FLAGS   := -mavx2 -mfma -mf16c -mbmi2
AVX512_FLAGS := -mavx2 -mfma -mf16c -mbmi2 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni

ALL_C    := $(wildcard src/*/*.c)
TEST_C   := $(filter %_test.c,$(ALL_C)) $(wildcard tests/*.c) tests/harness/main.c
MAIN_C   := src/cli/main.c
FUZZ_C   := $(wildcard src/*/*_fuzz.c)
LIB_C    := $(filter-out %_test.c $(MAIN_C) $(FUZZ_C),$(ALL_C))
ifneq ($(ARCH),x86_64)
LIB_C    := $(filter-out %_avx2.c %_avx512.c,$(LIB_C))
endif
BENCH_C  := $(wildcard bench/*.c)

# The web UI: web/* turned into a C file at build time (scripts/embed-assets), in the library.
UI_GEN   := $(BUILD)/gen/ui_assets.c

OBJ      = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_O    := $(call OBJ,$(LIB_C) $(UI_GEN))
TEST_O   := $(call OBJ,$(TEST_C))
MAIN_O   := $(call OBJ,$(MAIN_C))

BIN      := $(BUILD)/local-ai
TESTBIN  := $(BUILD)/tests
LIBA     := $(BUILD)/liblocalai.a
BENCHBIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_C))

# The AVX-512 kernels once more for the tests, on SIMDe's portable intrinsics (AVX2 flags
# only), so they are checked on CPUs without AVX-512 too (src/kernels/avx512_emu.h). One
# object; every global it defines is renamed NAME_emu. SIMDE_NO_INLINE keeps SIMDe's functions
# out of line: inlined into the unrolled kernels, one file took minutes to compile.
ifeq ($(ARCH),x86_64)
EMU_O    := $(patsubst %.c,$(BUILD)/obj/emu/%.o,$(filter %_avx512.c,$(LIB_C)))
EMU_ALL  := $(BUILD)/obj/emu/avx512_emu.o
endif

.PHONY: all test asan run bench fuzz clean deps format check-deps
all: $(BIN) $(TESTBIN) $(BENCHBIN)

# Install what is missing (fast when nothing is). Order-only: never forces a rebuild.
deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "CC $<"
	@$(CC) $(CFLAGS) $(if $(filter %_avx512.c,$<),$(AVX512_FLAGS),$(if $(filter %_avx2.c,$<),$(AVX2_FLAGS))) -Itests/harness -c $< -o $@

$(BUILD)/obj/emu/%.o: %.c src/kernels/avx512_emu.h | deps
	@mkdir -p $(dir $@)
	@echo "CC $< (AVX-512 emulated)"
	@$(CC) $(CFLAGS) $(AVX2_FLAGS) -Wno-psabi -DKERN_AVX512_EMU -DSIMDE_NO_INLINE -include src/kernels/avx512_emu.h -c $< -o $@

$(EMU_ALL): $(EMU_O)
	@ld -r -o $@.tmp $^
	@nm -g --defined-only $@.tmp | awk '{ print $$3, $$3 "_emu" }' > $@.syms
	@objcopy --redefine-syms=$@.syms $@.tmp $@
	@rm -f $@.tmp

$(UI_GEN): scripts/embed-assets web $(shell find web -type f 2>/dev/null)
	@scripts/embed-assets web $@

$(LIBA): $(LIB_O)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_O) $(LIBA)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(TESTBIN): $(TEST_O) $(EMU_ALL) $(LIBA)
	$(CC) $(CFLAGS) -o $@ $(TEST_O) $(EMU_ALL) $(LIBA) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIBA) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# The tests get a throwaway PostgreSQL (scripts/pg-test run: started before, stopped after,
# LOCALAI_TEST_DATABASE_URL set), one per worktree and target so parallel runs never share.
PGTEST = scripts/pg-test run /tmp/localai-pg-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN)
	@LOCALAI_BIN=$(BIN) $(PGTEST)-test $(TESTBIN) $(T)

asan: deps
	@$(MAKE) --no-print-directory MODE=asan BUILD=build/asan build/asan/local-ai build/asan/tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  LOCALAI_BIN=build/asan/local-ai $(PGTEST)-asan build/asan/tests $(T)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	scripts/foreground $(BIN) run $(ARGS)

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BENCHBIN)
	@for b in $(filter-out $(BUILD)/bench/mkmodel,$(BENCHBIN)); do echo "== $$b"; $$b || exit 1; done
	@echo "(LLM speed: bench/llm.sh makes models of real shapes and runs local-ai bench on them)"

FUZZ_BIN := $(patsubst src/%_fuzz.c,build/fuzz/%_fuzz,$(FUZZ_C))
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang MODE=asan BUILD=build/fuzz EXTRA_CFLAGS=-fsanitize=fuzzer-no-link build/fuzz/liblocalai.a $(FUZZ_BIN)

build/fuzz/%_fuzz: src/%_fuzz.c build/fuzz/liblocalai.a
	@mkdir -p $(dir $@)
	clang $(BASE_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/liblocalai.a $(PKG_LIBS) -lm

format:
	clang-format -i $(ALL_C) $(wildcard src/*/*.h) $(wildcard tests/*.c tests/harness/*.[ch] bench/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
