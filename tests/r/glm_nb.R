# R MASS::glm.nb reference for tests/test_survival_negbin.py.
# Usage: Rscript glm_nb.R data.csv out.tsv
# data.csv: one row per participant with NREADM, RISKDAYS, ARM (peer_support /
# usual_care) and the covariates (text columns are factors, first level in sorted order
# the reference, as the package's design()). Fits
# NREADM ~ ARM + covariates + offset(log(RISKDAYS)) on RISKDAYS > 0 and writes one row
# per coefficient (term, estimate, se) and alpha = 1/theta; se from the joint observed
# information of (beta, log theta) (nb_joint.R).
args <- commandArgs(trailingOnly = TRUE)
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(here, "nb_joint.R"))
d <- read.csv(args[1], check.names = FALSE, stringsAsFactors = FALSE)
d <- d[d$RISKDAYS > 0, ]
d$ARM <- as.numeric(d$ARM == "peer_support")
covs <- setdiff(names(d), c("USUBJID", "NREADM", "RISKDAYS", "ARM"))
for (v in covs) if (is.character(d[[v]])) d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))
rhs <- paste(c("ARM", sprintf("`%s`", covs)), collapse = " + ")
r <- nb_fit(as.formula(paste("NREADM ~", rhs, "+ offset(log(RISKDAYS))")), d)
out <- data.frame(term = c(gsub("`", "", names(r$coef)), "alpha"),
                  estimate = c(unname(r$coef), r$alpha), se = c(r$se, NA))
write.table(out, args[2], sep = "\t", row.names = FALSE, quote = FALSE, na = "NA")
