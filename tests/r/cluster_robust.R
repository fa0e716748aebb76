# R reference of tests/test_r_oracle_clustering_robust.py: cluster-robust variances by
# peer worker, each from R's own estimator.
#
# Usage: Rscript cluster_robust.R DIR OUT.tsv
#   DIR/primary.csv  one row per participant: y, used (0/1), w (weight), ARM (0/1),
#                    SITEID, DIAGGR, CLUSTER
#   DIR/tte.csv      AVAL, EV (0/1), ST (0 censored, 1 readmission, 2 death), ARM,
#                    PRIORADM, DETINDFL, SITEID, CLUSTER
#   DIR/ag.csv       TSTART, TSTOP, EVENT, ARM, PRIORADM, DETINDFL, SITEID, CLUSTER
#   DIR/nb.csv       NREADM, RISKDAYS, ARM, SITEID, DIAGGR, CLUSTER
#   DIR/icc.csv      y, CLUSTER, SITEID (the treated participants with a peer worker)
# Writes quantity <tab> value:
#   glm_se_*          sqrt(diag(sandwich::vcovCL(glm, cluster = ~CLUSTER))) (defaults:
#                     type HC0 for a glm, cadjust G/(G-1)); weighted glm as glmw_se_*
#   rd_se, r1_se, r0_se, lor_se   the g-computation's delta method of gcomp.R: the
#                     influence contributions summed by cluster (rowsum), times G/(G-1)
#   nb_se_*           vcovCL(MASS::glm.nb fit, cluster = ~CLUSTER)
#   cox_se_ARM, ag_se_ARM   coxph(..., cluster = CLUSTER, ties = "efron")$var (robust)
#   lr_u, lr_W, lr_rscore   the log-rank numerator, its variance clustered by peer worker
#                     and coxph's robust score test (robust_curves.R, site strata)
#   rmst_var_1, rmst_var_0  each arm's RMST variance at tau = 365, grouped IJ by cluster
#   cif_1, cif_var_1, cif_0, cif_var_0  each arm's cumulative incidence of readmission at
#                     365 days and its grouped IJ variance
#   msb_*, msw_*      mean squares of aov(y ~ factor(CLUSTER)) and of the nested
#                     aov(y ~ factor(SITEID) + factor(CLUSTER))
suppressPackageStartupMessages({library(survival); library(MASS); library(sandwich)})
args <- commandArgs(trailingOnly = TRUE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(here, "gcomp.R")); source(file.path(here, "robust_curves.R"))
rd <- function(f) read.csv(file.path(args[1], f), stringsAsFactors = FALSE)
out <- list()
put <- function(k, v) out[[k]] <<- unname(v)
fac <- function(x) factor(x, levels = sort(unique(x), method = "radix"))
ctl_glm <- glm.control(epsilon = 1e-14, maxit = 100)

# ------------------------------------------------------------ primary: glm + g-computation
p <- rd("primary.csv")
p$SITEID <- fac(p$SITEID); p$DIAGGR <- fac(p$DIAGGR)
gcomp <- function(fit, prefix) {
  se <- sqrt(diag(vcovCL(fit, cluster = ~CLUSTER)))
  for (k in names(se)) put(paste0(prefix, "_se_", k), se[[k]])
  g <- gcomp_influence(fit, p, p$used == 1)
  se <- gcomp_se(g$r1, g$r0, gcomp_cov(g$phi, p$CLUSTER))
  for (k in c("r1", "r0", "rd", "lor")) put(paste0(prefix, "_", k, "_se"), se[[k]])
}
f <- y ~ ARM + SITEID + DIAGGR
gcomp(glm(f, binomial, p[p$used == 1, ], control = ctl_glm), "glm")
gcomp(suppressWarnings(glm(f, binomial, p[p$used == 1, ], weights = w, control = ctl_glm)),
      "glmw")

# ------------------------------------------------------------ Cox and Andersen-Gill
ctl_cox <- coxph.control(eps = 1e-11, iter.max = 100)
s <- rd("tte.csv")
fit <- coxph(Surv(AVAL, EV) ~ ARM + PRIORADM + DETINDFL + strata(SITEID), s,
             cluster = CLUSTER, ties = "efron", control = ctl_cox)
put("cox_coef_ARM", coef(fit)[["ARM"]]); put("cox_se_ARM", sqrt(fit$var[1, 1]))
lr <- robust_logrank(Surv(AVAL, EV) ~ ARM + strata(SITEID), s, s$CLUSTER)
put("lr_u", lr$u); put("lr_W", lr$W); put("lr_rscore", lr$rscore)
for (a in 1:0) {
  m <- s$ARM == a
  put(paste0("rmst_var_", a), rmst_grouped_var(s$AVAL[m], s$EV[m], s$CLUSTER[m], 365))
  ci <- cif_grouped(s$AVAL[m], s$ST[m], s$CLUSTER[m], 365)
  put(paste0("cif_", a), ci$F); put(paste0("cif_var_", a), ci$V)
}
a <- rd("ag.csv")
a <- a[a$TSTOP > a$TSTART | a$EVENT == 1, ]
fit <- coxph(Surv(TSTART, TSTOP, EVENT) ~ ARM + PRIORADM + DETINDFL + strata(SITEID), a,
             cluster = CLUSTER, ties = "efron", control = ctl_cox)
put("ag_coef_ARM", coef(fit)[["ARM"]]); put("ag_se_ARM", sqrt(fit$var[1, 1]))

# ------------------------------------------------------------ negative binomial
nb <- rd("nb.csv")
nb <- nb[nb$RISKDAYS > 0, ]
nb$SITEID <- fac(nb$SITEID); nb$DIAGGR <- fac(nb$DIAGGR)
fit <- glm.nb(NREADM ~ ARM + SITEID + DIAGGR + offset(log(RISKDAYS)), nb,
              control = glm.control(epsilon = 1e-12, maxit = 200))
se <- sqrt(diag(vcovCL(fit, cluster = ~CLUSTER)))
for (k in names(se)) put(paste0("nb_se_", k), se[[k]])
put("nb_coef_ARM", coef(fit)[["ARM"]])

# ------------------------------------------------------------ ICC mean squares
ic <- rd("icc.csv")
tab <- summary(aov(y ~ factor(CLUSTER), ic))[[1]]
put("msb_flat", tab[1, "Mean Sq"]); put("msw_flat", tab[2, "Mean Sq"])
tab <- summary(aov(y ~ factor(SITEID) + factor(CLUSTER), ic))[[1]]
put("msb_nested", tab[2, "Mean Sq"]); put("msw_nested", tab[3, "Mean Sq"])

write.table(data.frame(quantity = names(out), value = unlist(out)), args[2], sep = "\t",
            row.names = FALSE, quote = FALSE)
