# fsdfs — build, test, demo, bench.
#
#   make            module (.so for Debian's nginx) + fsdfs CLI + unit tests
#   make deps       apt-get install whatever is missing (Debian 12)
#   make test       deps, build, every test (prove t/ lua-free-tests/)
#   make asan       the same build with ASan/UBSan into build-asan/
#   make test-asan  every test against the ASan/UBSan build
#   make demo       deps, build, a 3-node cluster on loopback with audio
#   make bench      read-path benchmarks, printed as ratios
#   make deb        Debian packages of the module and of fsdfsd + CLI in $(BUILD)/deb/
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each, into build-fuzz/
#
# NGINX_SRC=/path/to/nginx-x.y.z builds the module against that tree
# instead of Debian's nginx-dev copy in /usr/share/nginx/src.

SHELL      := /bin/bash
NGINX_SRC  ?= /usr/share/nginx/src
BUILD      ?= build
SAN        ?=

CC         ?= cc
WARN       := -Wall -Wextra -Werror
CFLAGS     ?= -O2 -g
CFLAGS     += -std=c11 -D_GNU_SOURCE $(WARN) -Icommon $(SAN)
LDFLAGS    += $(SAN)
LDLIBS     := -lhiredis -lcrypto -lxxhash -lm
D_LDLIBS   := -lhiredis -lcurl -lcrypto -lxxhash -lpcre2-8 -lm -ldl

DEB_PKGS   := build-essential nginx nginx-dev libhiredis-dev libssl-dev libxxhash-dev \
              libpcre2-dev libcurl4-openssl-dev redis-server redis-sentinel perl wrk iproute2 \
              libnginx-mod-http-lua lua-nginx-redis curl sox lame \
              chromium

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
CLI_SRC    := $(wildcard sidecar/cli*.c)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
# fsdfsd: every sidecar file that is not the CLI's
D_SRC      := $(filter-out sidecar/cli%,$(wildcard sidecar/*.c))
D_OBJ      := $(D_SRC:%.c=$(BUILD)/%.o)
# pure-logic sidecar code the unit tests drive without Redis or HTTP
UNIT_LIB   := $(filter $(BUILD)/sidecar/planner.o $(BUILD)/sidecar/conf.o \
              $(BUILD)/sidecar/policy.o $(BUILD)/sidecar/log.o,$(D_OBJ))
UNIT_SRC   := $(wildcard lua-free-tests/unit_*.c)
UNIT_BIN   := $(UNIT_SRC:lua-free-tests/%.c=$(BUILD)/tests/%)
MOD_SRC    := config $(wildcard ngx_module/*.[ch]) $(wildcard common/*.[ch])
MODULE     := $(BUILD)/ngx_http_fsdfs_module.so

.PHONY: all module cli daemon unit plugins deps test asan test-asan demo demo-stop bench deb clean

all: module cli daemon unit plugins

module: $(MODULE)
cli: $(BUILD)/fsdfs
daemon: $(BUILD)/fsdfsd
unit: $(UNIT_BIN) $(BUILD)/sample_policy.so
plugins: $(BUILD)/sample_policy.so

# the sample replication-policy plug-in (common/fsdfs_policy.h is its ABI)
$(BUILD)/sample_policy.so: conf.d/policy/sample_policy.c common/fsdfs_policy.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -fPIC $(LDFLAGS) -o $@ $<

$(BUILD)/%.o: %.c $(wildcard common/*.h sidecar/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/fsdfs: $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl $(LDLIBS)

$(BUILD)/fsdfsd: $(D_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(D_LDLIBS)

$(BUILD)/bench/fill_index: bench/fill_index.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(COMMON_OBJ) $(LDLIBS)

# planner benchmark (bench/README.md): pure data structure, no Redis
$(BUILD)/bench/planner: bench/planner.c $(BUILD)/sidecar/planner.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isidecar $(LDFLAGS) -o $@ $< $(BUILD)/sidecar/planner.o $(COMMON_OBJ) $(LDLIBS)

.PHONY: bench-planner
bench-planner: $(BUILD)/bench/planner
	$(BUILD)/bench/planner

$(BUILD)/tests/%: lua-free-tests/%.c lua-free-tests/tap.h $(COMMON_OBJ) $(UNIT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilua-free-tests -Isidecar $(LDFLAGS) -o $@ $< $(COMMON_OBJ) $(UNIT_LIB) $(D_LDLIBS)

# the harness's checksum helper (t/lib/FsdfsTest.pm, sum64)
unit: $(BUILD)/tests/sum64

# executor.t's client: the real executor against real HTTP servers
unit: $(BUILD)/tests/drive_executor
$(BUILD)/tests/drive_executor: lua-free-tests/drive_executor.c $(BUILD)/sidecar/executor.o $(BUILD)/sidecar/log.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isidecar $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(D_LDLIBS)

# Fuzzing: lua-free-tests/fuzz_*.c are libFuzzer targets (record codec,
# signatures, path rules, fsdfsd config). `make fuzz` builds them with
# clang, libFuzzer and ASan/UBSan into $(FUZZ_BUILD)/ (common/ and the
# sidecar code they need compiled there with the same flags) and runs each
# for FUZZ_SECONDS, one after the other; a crash fails it and leaves the
# reproducer in $(FUZZ_BUILD)/crashes/. The same targets, linked with a
# plain driver (fuzz_main.c) by $(CC) with ASan, replay the seed corpus
# lua-free-tests/corpus/<target>/ in `make test` (fuzz_corpus.t).
FUZZ_PKGS    := clang-14 libclang-rt-14-dev
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
                -Icommon -Isidecar -Ilua-free-tests $(FUZZ_SAN)
FUZZ_TARGETS := $(filter-out main,$(patsubst lua-free-tests/fuzz_%.c,%,\
                $(wildcard lua-free-tests/fuzz_*.c)))
FUZZ_LIB_SRC := $(COMMON_SRC) sidecar/conf.c sidecar/policy.c sidecar/log.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
SMOKE_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(BUILD)/smoke/%.o)
SMOKE_BIN    := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz_%)

.PHONY: fuzz fuzz-deps fuzz-smoke
unit: fuzz-smoke
fuzz-smoke: $(SMOKE_BIN)

$(BUILD)/smoke/%.o: %.c $(wildcard common/*.h sidecar/*.h) lua-free-tests/fuzz.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isidecar -Ilua-free-tests $(FUZZ_SAN) -c -o $@ $<

$(SMOKE_BIN): $(BUILD)/tests/fuzz_%: $(BUILD)/smoke/lua-free-tests/fuzz_%.o $(BUILD)/smoke/lua-free-tests/fuzz_main.o $(SMOKE_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(FUZZ_SAN) -o $@ $^ $(D_LDLIBS)

$(FUZZ_BUILD)/obj/%.o: %.c $(wildcard common/*.h sidecar/*.h) lua-free-tests/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%): $(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/lua-free-tests/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(D_LDLIBS)

fuzz-deps:
	@missing=""; for p in $(FUZZ_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "fuzz-deps: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# One target at a time (the machine is shared); the working corpus grows in
# $(FUZZ_BUILD)/corpus/, the seeds in the repo are only read.
fuzz: deps fuzz-deps
	$(MAKE) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
	@mkdir -p $(FUZZ_BUILD)/crashes; total=0; crashes=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; log=$(FUZZ_BUILD)/$$t.log; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s (log $$log)"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t- \
	    $(FUZZ_BUILD)/corpus/$$t lua-free-tests/corpus/$$t > $$log 2>&1; \
	  rc=$$?; crash=0; [ $$rc = 0 ] || { crash=1; tail -40 $$log; }; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -1); \
	  rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log | tail -1); \
	  echo "fuzz: $$t: $${execs:-0} executions ($${rate:-0}/s), $$crash crashes"; \
	  total=$$((total + $${execs:-0})); crashes=$$((crashes + crash)); \
	done; \
	echo "fuzz: total: $$total executions, $$crashes crashes"; \
	[ $$crashes = 0 ] || { echo "fuzz: reproducers in $(FUZZ_BUILD)/crashes/"; exit 1; }

# The module: configure a private copy of the nginx tree with the flags the
# installed nginx was built with (Debian ships them in conf_flags), so the
# .so loads into the stock /usr/sbin/nginx; then build only the modules.
$(BUILD)/nginx/objs/Makefile: config
	@rm -rf $(BUILD)/nginx && mkdir -p $(BUILD)
	cp -a $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && \
	  if [ -f conf_flags ]; then . ./conf_flags; else NGX_CONF_FLAGS=(--with-compat --with-threads); fi && \
	  conf=./configure; [ -x $$conf ] || conf=./auto/configure; \
	  $$conf "$${NGX_CONF_FLAGS[@]}" --with-cc-opt="-O2 -g -Wextra $(SAN)" \
	    --with-ld-opt="$(SAN)" --add-dynamic-module=$(CURDIR) > configure.log 2>&1 \
	  || { tail -20 configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(MOD_SRC)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_fsdfs_module.so $@

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps all
	FSDFS_BUILD=$(abspath $(BUILD)) prove -r -j2 t/ lua-free-tests/

asan:
	$(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" all

test-asan: deps asan
	FSDFS_BUILD=$(abspath build-asan) FSDFS_ASAN=1 prove -r -j2 t/ lua-free-tests/

demo: deps all
	conf.d/demo/demo.sh start

demo-stop:
	conf.d/demo/demo.sh stop

bench: deps all $(BUILD)/bench/fill_index
	FSDFS_BUILD=$(abspath $(BUILD)) bench/read_path.sh

# dpkg-deb and dpkg-shlibdeps come with build-essential (dpkg-dev)
deb: deps module cli daemon
	conf.d/deb/build.sh $(BUILD)

clean:
	rm -rf build build-asan
