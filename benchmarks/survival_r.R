# R side of benchmarks/bench_survival_r.py: one analysis of one data set, timed in R.
# Usage: Rscript survival_r.R data.csv cox|logrank
# data.csv: columns t (days), e (1 = event), arm (1 = treated), site (text).
#   cox:     coxph(Surv(t, e) ~ arm + strata(site)) (Efron ties, R's default) and
#            cox.zph(fit) (transform "km", R's default), the pipeline's Cox model of arm
#            stratified by site with its proportional-hazards test;
#   logrank: survdiff(Surv(t, e) ~ arm + strata(site)), the stratified log-rank test.
# Prints "r_seconds <elapsed> <user + system CPU>" (system.time of the analysis only, not
# of reading the file or loading the package) and the numbers to compare, 17 digits.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("numeric", "numeric", "numeric", "character"))
what <- args[2]
num <- function(x) sprintf("%.17g", x)
if (what == "cox") {
  tm <- system.time({
    fit <- coxph(Surv(t, e) ~ arm + strata(site), data = d)
    zph <- cox.zph(fit)
  })
  cat("coef", num(unname(coef(fit)["arm"])), "\n")
  cat("zph_chisq", num(zph$table["arm", "chisq"]), "\n")
  cat("zph_global", num(zph$table["GLOBAL", "chisq"]), "\n")
} else if (what == "logrank") {
  tm <- system.time(sd <- survdiff(Surv(t, e) ~ arm + strata(site), data = d))
  cat("chisq", num(sd$chisq), "\n")
} else {
  stop("second argument: cox or logrank")
}
cat("r_seconds", num(tm[["elapsed"]]), num(tm[["user.self"]] + tm[["sys.self"]]), "\n")
