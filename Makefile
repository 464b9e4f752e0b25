# bootscale: set-up, demo, tests, check and benchmarks.
#   make demo             install what is missing, then run the chapter's pipeline
#   make demo DATA=path   ... on a histogram file of your own
#   make check            install what is missing, R CMD build + R CMD check
#   make check-cran       the same with --as-cran (network checks off)
#   make test             quick testthat run against the installed package
#   make bench            benchmarks in bench/, results in bench/RESULTS.md
#   make ctest            pure C tests of src/ without R, under ASan + UBSan (tests/ctest)
#   make fuzz             libFuzzer on alias + kernel for FUZZ_SECONDS (60); installs clang if missing
#   make valgrind         testthat suite under valgrind; log in valgrind/valgrind.log, summary printed
#   make soak             1000 parallel calls in one R session; fails if fds, maps, children or RSS grow
#   make cluster-demo     start a one-node Slurm here, run the pipeline on it (future.batchtools,
#                         2 chunks), compare with the fork backend, stop Slurm (DATA=path too)
#   make cluster-check    the future backend's tests, on that local Slurm too; daemons checked gone

R ?= R
RSCRIPT ?= Rscript
DATA ?=
FUZZ_SECONDS ?= 60
SOAK_LIB ?= /tmp/lib-soak

.PHONY: setup install demo test check check-cran bench docs clean ctest fuzz valgrind soak \
	cluster-demo cluster-check

setup:
	bash tools/setup.sh

install: setup
	$(R) CMD INSTALL --preclean --no-multiarch .

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

docs:
	$(RSCRIPT) -e 'roxygen2::roxygenise()'

clean:
	rm -rf check valgrind bootscale.Rcheck bootscale_*.tar.gz src/*.o src/*.so

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

cluster-demo: setup
	bash tools/cluster-demo.sh $(DATA)

cluster-check: setup
	bash tools/cluster-check.sh
