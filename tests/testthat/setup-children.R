# Suite-wide: every test that leaves a child process behind fails (issue
# 11, item 17). The reporter in use is wrapped: its start_test() notes the
# children, its end_test() looks again and adds a failure to the test that
# left any. The persistent pool's helper is an expected child (the workers
# are its children, not ours): exactly its pid, from pool_status(), is
# excluded. A child that is ending is given up to a second.
local({
  rep <- testthat::get_reporter()
  if (is.null(rep) || !is.environment(rep) || isTRUE(rep$.bootscale_children)) return()
  before <- integer()
  start <- rep$start_test
  end <- rep$end_test
  left_behind <- function() {
    setdiff(child_pids(), c(before, pool_pids()))
  }
  wrap <- function(name, fn) {
    unlockBinding(name, rep)
    assign(name, fn, envir = rep)
    lockBinding(name, rep)
  }
  wrap("start_test", function(context, test) {
    before <<- tryCatch(child_pids(), condition = function(e) integer())
    start(context, test)
  })
  wrap("end_test", function(context, test) {
    left <- tryCatch(left_behind(), condition = function(e) integer())
    deadline <- Sys.time() + 1
    while (length(left) && Sys.time() < deadline) {
      Sys.sleep(0.05)
      left <- tryCatch(left_behind(), condition = function(e) integer())
    }
    if (length(left)) {
      rep$add_result(context, test, testthat::new_expectation(
        "failure",
        sprintf("the test left child processes behind: %s", paste(left, collapse = ", "))
      ))
    }
    end(context, test)
  })
  if (exists(".bootscale_children", envir = rep, inherits = FALSE)) {
    unlockBinding(".bootscale_children", rep)
  }
  tryCatch(assign(".bootscale_children", TRUE, envir = rep), error = function(e) NULL)
})
