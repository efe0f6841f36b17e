# Reliability figures from R psych, the reference that tests/test_diagnostics.py compares surveyengine with.
#
#   Rscript tests/reference/psych_reference.R DATA.csv [OUT.csv]
#
# DATA.csv: one column per item; the blocks (scales) are the numeric columns grouped by name without their
# trailing digits (imag1..imag5 -> imag); other columns (a row-number column "", text) are ignored.
# Writes long CSV (to OUT.csv, else standard output): block, item (empty for a block figure), figure, value.
# Figures per block: alpha, alpha_standardized (psych::alpha's raw_alpha, std.alpha), omega_total and omega_h
# (psych::omega(nfactors = 1)'s omega.tot and omega_h); per item: alpha_if_deleted,
# alpha_standardized_if_deleted (alpha.drop), item_rest (item.stats r.drop), loading (omega's g loading).
# Needs Debian's r-base-core, r-cran-psych and r-cran-gparotation (psych::schmid, behind omega, requires it);
# without the packages it exits with status 3.
missing <- Filter(function(p) !requireNamespace(p, quietly = TRUE), c("psych", "GPArotation"))
if (length(missing)) {
  message("R packages missing: ", paste(missing, collapse = ", "),
          " (Debian: apt-get install r-base-core r-cran-psych r-cran-gparotation)")
  quit(status = 3)
}
suppressPackageStartupMessages(library(psych))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 1) stop("usage: Rscript psych_reference.R DATA.csv [OUT.csv]")
data <- read.csv(args[1], check.names = FALSE)
data <- data[, names(data) != "" & vapply(data, is.numeric, logical(1)), drop = FALSE]
stems <- sub("[0-9]+$", "", names(data))

rows <- list()
add <- function(block, item, figure, value) {
  rows[[length(rows) + 1]] <<- data.frame(block = block, item = item, figure = figure, value = unname(value))
}
for (block in unique(stems)) {
  x <- data[, stems == block, drop = FALSE]
  if (ncol(x) < 2) next
  # psych::alpha's response-frequency table and omega's one-factor notices go to messages/warnings: not figures
  a <- suppressMessages(suppressWarnings(alpha(x)))
  o <- suppressMessages(suppressWarnings(omega(x, nfactors = 1, plot = FALSE)))
  add(block, "", "alpha", a$total$raw_alpha)
  add(block, "", "alpha_standardized", a$total$std.alpha)
  add(block, "", "omega_total", o$omega.tot)
  add(block, "", "omega_h", o$omega_h)
  items <- colnames(x)
  add(block, items, "alpha_if_deleted", a$alpha.drop[items, "raw_alpha"])
  add(block, items, "alpha_standardized_if_deleted", a$alpha.drop[items, "std.alpha"])
  add(block, items, "item_rest", a$item.stats[items, "r.drop"])
  add(block, items, "loading", o$schmid$sl[items, "g"])
}
out <- do.call(rbind, rows)
out$value <- formatC(out$value, digits = 15, format = "g")
write.csv(out, if (length(args) >= 2) args[2] else stdout(), row.names = FALSE, quote = TRUE)
