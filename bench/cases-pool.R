# The persistent worker pool, when bench/pool.R is there (it comes with the
# pool: one function per case, bench_pool_all() assembling their tables).
# pool.R reads `input` and `n_means` as free variables and the harness's
# time_once() and the report's formatters from where it is sourced: here, an
# environment of its own that holds the first two and sees the rest.

bench_group_pool <- function(ctx, done) {
  cat("[pool] the persistent pool ...\n")
  env <- new.env(parent = globalenv())
  env$input <- ctx$input
  env$n_means <- ctx$n_means
  sys.source(file.path(ctx$bench_dir, "pool.R"), envir = env)
  bench_section(env$bench_pool_all())
}
