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
LDLIBS     := -lhiredis -lcrypto -lm
D_LDLIBS   := -lhiredis -lcurl -lcrypto -lpcre2-8 -lm -ldl

DEB_PKGS   := build-essential nginx nginx-dev libhiredis-dev libssl-dev \
              libpcre2-dev libcurl4-openssl-dev redis-server perl wrk \
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
unit: $(UNIT_BIN)
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

# executor.t's client: the real executor against real HTTP servers
unit: $(BUILD)/tests/drive_executor
$(BUILD)/tests/drive_executor: lua-free-tests/drive_executor.c $(BUILD)/sidecar/executor.o $(BUILD)/sidecar/log.o $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isidecar $(LDFLAGS) -o $@ $< $(filter %.o,$^) $(D_LDLIBS)

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
