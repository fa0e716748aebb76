# R mice::quickpred and cor(pairwise) of a numeric CSV (NA = missing), for
# tests/test_imputation_predictors.py.
# Usage: Rscript quickpred.R in.csv out_dir mincor minpuc include(comma-separated names or "")
suppressPackageStartupMessages(library(mice))
args <- commandArgs(trailingOnly = TRUE)
x <- read.csv(args[1], na.strings = "NA", check.names = FALSE)
out <- args[2]
include <- if (nchar(args[5]) > 0) strsplit(args[5], ",")[[1]] else ""
pm <- quickpred(x, mincor = as.numeric(args[3]), minpuc = as.numeric(args[4]),
                include = include)
write.csv(pm, file.path(out, "quickpred.csv"), row.names = FALSE)
m <- data.matrix(x)
v <- suppressWarnings(cor(m, use = "pairwise.complete.obs"))
u <- suppressWarnings(cor(y = m, x = !is.na(m), use = "pairwise.complete.obs"))
write.csv(v, file.path(out, "cor.csv"), row.names = FALSE, na = "NA")
write.csv(u, file.path(out, "response_cor.csv"), row.names = FALSE, na = "NA")
