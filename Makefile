# bootscale: set-up, demo, tests, check and benchmarks.
#   make install          install what is missing, build the package (vignettes included), install it
#   make demo             make install, then run the chapter's pipeline
#   make demo DATA=path   ... on a histogram file of your own
#   make check            install what is missing, R CMD build + R CMD check
#   make check-cran       the same with --as-cran (network checks off)
#   make test             quick testthat run against the installed package
#   make bench            benchmarks in bench/, results in bench/RESULTS.md
#                         (BOOTSCALE_BENCH_SCALE=0.1 make bench: a smoke run, report in a temp file)
#   make bench-exact      the exact bootstrap against resampling and peers, bench/RESULTS-exact.md
#   make ctest            pure C tests of src/ without R, under ASan + UBSan (tests/ctest)
#   make fuzz             libFuzzer on alias + kernel for FUZZ_SECONDS (60); installs clang if missing
#   make valgrind         testthat suite under valgrind; log in valgrind/valgrind.log, summary printed
#   make soak             1000 parallel calls in one R session; fails if fds, maps, children or RSS grow
#   make lint             lintr (.lintr) over the R code, clang-format (.clang-format) over the C;
#                         fails on any finding (bash tools/lint.sh --fix applies clang-format)
#   make coverage         line coverage of R/ and src/ by the tests (covr); totals for R and C
#   make site             pkgdown site in docs/ (_pkgdown.yml), then headless Chromium opens the
#                         home page and the bootstrap_mean reference; fails on a broken page or link
#   make cluster-demo     start a one-node Slurm here, run the pipeline on it (future.batchtools,
#                         2 chunks), compare with the fork backend, stop Slurm (DATA=path too)
#   make cluster-check    the future backend's tests, on that local Slurm too; daemons checked gone

R ?= R
RSCRIPT ?= Rscript
DATA ?=
FUZZ_SECONDS ?= 60
SOAK_LIB ?= /tmp/lib-soak

# make install builds the source package (which renders the vignettes) and
# installs that, so that vignette("bootscale") is found; R CMD INSTALL . on
# the directory would install no vignettes. The tarball is rebuilt only when
# a file it is made from changes.
VERSION := $(shell sed -n 's/^Version: *//p' DESCRIPTION)
TARBALL := build/bootscale_$(VERSION).tar.gz
PKG_FILES := DESCRIPTION NAMESPACE $(shell find R man src vignettes inst -type f \
  ! -name '*.o' ! -name '*.so' ! -name '*.html' 2>/dev/null)
# LIB=dir installs into that library instead of R's default one.
LIB ?=

.PHONY: setup install demo test check check-cran bench bench-exact docs clean ctest fuzz valgrind soak \
        lint coverage site cluster-demo cluster-check

setup:
	bash tools/setup.sh

$(TARBALL): $(PKG_FILES)
	mkdir -p build
	cd build && $(R) CMD build --no-manual ..

install: setup $(TARBALL)
	$(R) CMD INSTALL --no-multiarch $(if $(LIB),--library=$(LIB)) $(TARBALL)

demo: install
	$(RSCRIPT) tools/demo.R $(DATA)

test: install
	$(RSCRIPT) tools/run-tests.R

check: setup
	bash tools/check.sh

check-cran: setup
	bash tools/check.sh --as-cran

bench: install
	$(RSCRIPT) bench/run.R

bench-exact: install
	$(RSCRIPT) bench/exact.R $(DATA)

docs:
	$(RSCRIPT) -e 'roxygen2::roxygenise()'

clean:
	rm -rf build check valgrind bootscale.Rcheck bootscale_*.tar.gz src/*.o src/*.so coverage docs site-check

ctest:
	$(MAKE) -C tests/ctest run

fuzz:
	bash tools/setup.sh fuzz
	$(MAKE) -C tests/fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

valgrind: setup
	bash tools/valgrind.sh

soak: setup
	mkdir -p $(SOAK_LIB)
	$(R) CMD INSTALL --no-multiarch --library=$(SOAK_LIB) . > $(SOAK_LIB)/install.log 2>&1 || \
	  { tail -n 30 $(SOAK_LIB)/install.log; exit 1; }
	MALLOC_MMAP_THRESHOLD_=131072 R_LIBS=$(SOAK_LIB) $(RSCRIPT) tools/soak.R

lint: setup
	bash tools/setup.sh lint
	bash tools/lint.sh

coverage: setup
	bash tools/setup.sh coverage
	$(RSCRIPT) tools/coverage.R coverage

site: setup
	bash tools/setup.sh site
	$(RSCRIPT) tools/site.R docs
	$(RSCRIPT) tools/site-check.R docs

cluster-demo: setup
	bash tools/cluster-demo.sh $(DATA)

cluster-check: setup
	bash tools/cluster-check.sh
