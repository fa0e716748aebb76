# R mice on a CSV, for tests/test_imputation_r.py and benchmarks/bench_mice.py.
#   Rscript tests/r/mice_oracle.R IN.csv OUT.csv METHOD M MAXIT SEED
# Every incomplete column is imputed by METHOD from all the other columns; OUT.csv holds
# mice::complete(imp, "long") (columns .imp, .id and the data's). The time mice() took,
# in seconds, is printed on stdout as "mice_seconds <t>".
suppressPackageStartupMessages(library(mice))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
meth <- ifelse(colSums(is.na(d)) > 0, args[3], "")
pred <- matrix(1, ncol(d), ncol(d), dimnames = list(names(d), names(d)))
diag(pred) <- 0
t <- system.time(imp <- mice(d, m = as.integer(args[4]), maxit = as.integer(args[5]),
                             method = meth, predictorMatrix = pred, printFlag = FALSE,
                             seed = as.integer(args[6])))[["elapsed"]]
if (!is.null(imp$loggedEvents)) print(imp$loggedEvents)
cat(sprintf("mice_seconds %.3f\n", t))
if (args[2] != "-") write.csv(complete(imp, "long"), args[2], row.names = FALSE)
