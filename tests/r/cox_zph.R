# R survival::cox.zph reference for tests/test_survival_phtest.py.
# Usage: Rscript cox_zph.R data.csv out.tsv
# data.csv: columns time, event, optional strata, then the covariates (numeric, or text
# for a factor term). Fits coxph(Surv(time, event) ~ covariates [+ strata(strata)],
# ties = "efron") and writes to out.tsv one row per term and GLOBAL for the transforms km
# and rank (terms = TRUE), and to out.tsv.coef the fitted coefficients.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], check.names = FALSE, stringsAsFactors = TRUE)
covs <- setdiff(names(d), c("time", "event", "strata"))
rhs <- paste(sprintf("`%s`", covs), collapse = " + ")
if ("strata" %in% names(d)) rhs <- paste(rhs, "+ strata(strata)")
fit <- coxph(as.formula(paste("Surv(time, event) ~", rhs)), data = d, ties = "efron")
out <- NULL
for (tr in c("km", "rank")) {
  z <- cox.zph(fit, transform = tr, terms = TRUE)$table
  out <- rbind(out, data.frame(transform = tr, term = gsub("`", "", rownames(z)),
                               statistic = z[, "chisq"], df = z[, "df"], p_value = z[, "p"]))
}
write.table(out, args[2], sep = "\t", row.names = FALSE, quote = FALSE)
cf <- coef(fit)
write.table(data.frame(term = gsub("`", "", names(cf)), coef = unname(cf)),
            paste0(args[2], ".coef"), sep = "\t", row.names = FALSE, quote = FALSE)
