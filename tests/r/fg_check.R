# Driver of tests/test_survival_finegray.py: the Fine-Gray model and Gray's test of one
# data set, from R cmprsk and survival (functions in finegray.R).
#
# Usage: Rscript fg_check.R IN.csv OUT.tsv
#   IN.csv  AVAL, ST (0 censored, 1 readmission, 2 death), ARM (0/1), PRIORADM,
#           DETINDFL (0/1), SITEID, CLUSTER, JIT (AVAL plus a jitter that breaks all ties)
# Writes quantity <tab> value:
#   crr_coef_k, crr_se_k      crr(AVAL, ST, cbind(ARM, PRIORADM, DETINDFL)), gtol 1e-14
#   str_coef_k, str_se_k      stratified by SITEID from crr per site (fg_crr_strata)
#   cl_se_k                   the stratified model's variance with phi summed by CLUSTER
#   fgc_coef_k                finegray(~ . + strata(SITEID)) + coxph(strata, weights =
#                             fgwt, ties = "breslow") on the untied times JIT
#   gray_stat, gray_p         cuminc(AVAL, ST, ARM)$Tests["1", ]; gray_strat_* with strata
suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(here, "finegray.R"))
d <- read.csv(args[1], stringsAsFactors = FALSE)
X <- as.matrix(d[, c("ARM", "PRIORADM", "DETINDFL")])
out <- list()
put <- function(prefix, v) for (k in seq_along(v)) out[[paste0(prefix, k)]] <<- unname(v[k])
f <- crr(d$AVAL, d$ST, X, gtol = 1e-14, maxiter = 100)
put("crr_coef_", f$coef); put("crr_se_", sqrt(diag(f$var)))
s <- fg_crr_strata(d$AVAL, d$ST, X, d$SITEID)
put("str_coef_", s$coef); put("str_se_", sqrt(diag(s$var)))
put("cl_se_", sqrt(diag(fg_cluster_var(d$AVAL, d$ST, X, d$SITEID, d$CLUSTER, s))))
d$SITE <- d$SITEID  # finegray drops its strata() variable from the data it returns
fg <- finegray(Surv(JIT, factor(ST)) ~ ARM + PRIORADM + DETINDFL + SITE + strata(SITEID),
               d, etype = "1")
fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ ARM + PRIORADM + DETINDFL + strata(SITE), fg,
             weights = fgwt, ties = "breslow", control = coxph.control(eps = 1e-11))
put("fgc_coef_", coef(fit))
g <- cuminc(d$AVAL, d$ST, d$ARM, cencode = 0)$Tests
out$gray_stat <- g["1", "stat"]; out$gray_p <- g["1", "pv"]
g <- cuminc(d$AVAL, d$ST, d$ARM, strata = d$SITEID, cencode = 0)$Tests
out$gray_strat_stat <- g["1", "stat"]; out$gray_strat_p <- g["1", "pv"]
write.table(data.frame(quantity = names(out), value = unlist(out)), args[2], sep = "\t",
            row.names = FALSE, quote = FALSE)
