# Suite-wide: every test that leaves a child process behind fails (issue
# 11, item 17). testthat makes its reporters after the setup files run, so
# the check goes into the class every run uses, MultiReporter: its
# start_test() notes this process's children, its end_test() looks again
# and adds a failure to the test that left any (given up to a second to
# end). The persistent pool's helper is an expected child (the workers are
# its children, not ours): exactly its pid, from pool_status(), is
# excluded. The methods are restored when the suite ends.
local({
  gen <- testthat::MultiReporter
  old <- gen$public_methods[c("start_test", "end_test")]
  state <- new.env()
  state$before <- integer()
  state$start <- function() {
    state$before <- tryCatch(child_pids(), condition = function(e) integer())
  }
  state$left <- function() {
    left_now <- function() {
      tryCatch(setdiff(child_pids(), c(state$before, pool_pids())),
               condition = function(e) integer())
    }
    left <- left_now()
    deadline <- Sys.time() + 1
    while (length(left) && Sys.time() < deadline) {
      Sys.sleep(0.05)
      left <- left_now()
    }
    left
  }
  # R6 gives methods the object's environment: the state is reached
  # through an option.
  options(bootscale.test_children = state)
  gen$set("public", "start_test", function(context, test) {
    st <- getOption("bootscale.test_children")
    if (!is.null(st)) st$start()
    o_apply(self$reporters, "start_test", context, test)
  }, overwrite = TRUE)
  gen$set("public", "end_test", function(context, test) {
    st <- getOption("bootscale.test_children")
    left <- if (is.null(st)) integer() else st$left()
    if (length(left)) {
      self$add_result(context, test, expectation(
        "failure", sprintf("the test left child processes behind: %s", paste(left, collapse = ", "))
      ))
    }
    o_apply(self$reporters, "end_test", context, test)
  }, overwrite = TRUE)
  withr::defer({
    gen$set("public", "start_test", old$start_test, overwrite = TRUE)
    gen$set("public", "end_test", old$end_test, overwrite = TRUE)
    options(bootscale.test_children = NULL)
  }, envir = testthat::teardown_env())
})
