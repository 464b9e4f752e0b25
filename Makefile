# bootscale: set-up, demo, tests, check and benchmarks.
#   make demo             install what is missing, then run the chapter's pipeline
#   make demo DATA=path   ... on a histogram file of your own
#   make check            install what is missing, R CMD build + R CMD check
#   make test             quick testthat run against the installed package
#   make bench            benchmarks in bench/, results in bench/RESULTS.md

R ?= R
RSCRIPT ?= Rscript
DATA ?=

.PHONY: setup install demo test check bench docs clean

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

bench: install
	$(RSCRIPT) bench/run.R

docs:
	$(RSCRIPT) -e 'roxygen2::roxygenise()'

clean:
	rm -rf check bootscale.Rcheck bootscale_*.tar.gz src/*.o src/*.so
