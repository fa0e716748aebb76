# R reference of tests/test_cace_iv.py: two-stage least squares by AER::ivreg with the
# sandwich variances and AER's first-stage diagnostics.
#
# Usage: Rscript ivreg.R IN.csv OUT.tsv
#   IN.csv  one row per participant: y, ENGFL (0/1), NCONTACT, ARM (0/1), BASE, SITE,
#           CLUSTER (labels of outcomes.clustering.cluster_ids)
# Fits
#   cace: y ~ BASE + SITE + ENGFL    | BASE + SITE + ARM
#   dose: y ~ BASE + SITE + NCONTACT | BASE + SITE + ARM + ARM:BASEC  (BASEC = BASE - mean)
#   cace_w, dose_w: the same with weights = w (weighted 2SLS; IN.csv's column w)
# and writes quantity <tab> value:
#   <fit>_coef_<term>, <fit>_hc1_<term>  coefficients; sqrt(diag(vcovHC(fit, type = "HC1")))
#   <fit>_cl_<term>                      sqrt(diag(vcovCL(fit, cluster = ~CLUSTER, type = "HC1")))
#   <fit>_weak_f, <fit>_weak_df1, <fit>_weak_df2   summary(fit, diagnostics = TRUE)
#   <fit>_weak_f_hc1, <fit>_weak_f_cl    the same with vcov. = vcovHC / vcovCL (HC1)
#   dose_sargan, dose_sargan_df           Sargan test of summary(dose, diagnostics = TRUE)
#                                         (dose_w_sargan, dose_w_sargan_df likewise)
suppressPackageStartupMessages({library(AER); library(sandwich)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$SITE <- factor(d$SITE, levels = sort(unique(d$SITE), method = "radix"))
d$BASEC <- d$BASE - mean(d$BASE)
out <- list()
put <- function(k, v) out[[k]] <<- unname(v)
hc1 <- function(x) vcovHC(x, type = "HC1")
cl1 <- function(x) vcovCL(x, cluster = d$CLUSTER, type = "HC1")
fits <- list(
  cace = ivreg(y ~ BASE + SITE + ENGFL | BASE + SITE + ARM, data = d),
  dose = ivreg(y ~ BASE + SITE + NCONTACT | BASE + SITE + ARM + ARM:BASEC, data = d),
  cace_w = ivreg(y ~ BASE + SITE + ENGFL | BASE + SITE + ARM, data = d, weights = w),
  dose_w = ivreg(y ~ BASE + SITE + NCONTACT | BASE + SITE + ARM + ARM:BASEC, data = d,
                 weights = w))
for (f in names(fits)) {
  fit <- fits[[f]]
  cf <- coef(fit)
  nm <- names(cf)
  se_hc <- sqrt(diag(hc1(fit)))
  se_cl <- sqrt(diag(vcovCL(fit, cluster = ~CLUSTER, type = "HC1")))
  for (k in nm) {
    put(paste0(f, "_coef_", k), cf[[k]])
    put(paste0(f, "_hc1_", k), se_hc[[k]])
    put(paste0(f, "_cl_", k), se_cl[[k]])
  }
  dg <- summary(fit, diagnostics = TRUE)$diagnostics
  put(paste0(f, "_weak_f"), dg["Weak instruments", "statistic"])
  put(paste0(f, "_weak_df1"), dg["Weak instruments", "df1"])
  put(paste0(f, "_weak_df2"), dg["Weak instruments", "df2"])
  put(paste0(f, "_weak_f_hc1"),
      summary(fit, vcov. = hc1, diagnostics = TRUE)$diagnostics["Weak instruments", "statistic"])
  put(paste0(f, "_weak_f_cl"),
      summary(fit, vcov. = cl1, diagnostics = TRUE)$diagnostics["Weak instruments", "statistic"])
  if (startsWith(f, "dose")) {
    put(paste0(f, "_sargan"), dg["Sargan", "statistic"])
    put(paste0(f, "_sargan_df"), dg["Sargan", "df1"])
  }
}
write.table(data.frame(quantity = names(out), value = sprintf("%.17g", unlist(out))),
            args[2], sep = "\t", quote = FALSE, row.names = FALSE)
