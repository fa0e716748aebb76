# The R oracle of Rubin's rules (tests/test_r_oracle_mi.py): R mice imputes an incomplete
# wide frame, writes the completed datasets, fits the questionnaire ANCOVA on each with
# lm and pools with mice::pool(). The Python side refits and pools the SAME completed
# datasets (read from the file written here) and must agree.
#
# Usage: Rscript mice_pool.R INCOMPLETE.csv IMPUTE.csv PARAMS.tsv OUT_COMPLETED.csv OUT_POOLED.tsv
#   INCOMPLETE.csv  one row per participant: USUBJID, ARM, SITEID, DIAGGR, TRT01PN, AGE,
#                   PRIORADM and
#                   one column <PARAMCD>_<visit> per score and visit (empty = missing)
#   IMPUTE.csv      the score columns, 1 where a missing value is to be imputed, 0 where it
#                   stays missing (a visit after death or after the data cut)
#   PARAMS.tsv      key <tab> value (lists comma-separated): treated, control, m, maxit,
#                   seed, paramcds, visits (analysed), frame_visits (all visits of a score),
#                   stratifiers (the ANCOVA's factors; a missing value is its own level)
# Numbers are written with 17 significant digits, so both sides read the same doubles.
suppressPackageStartupMessages(library(mice))
args <- commandArgs(trailingOnly = TRUE)
P <- read.delim(args[3], header = FALSE, col.names = c("key", "value"),
                colClasses = "character")
par <- setNames(strsplit(P$value, ",", fixed = TRUE), P$key)
trt <- par$treated; ctl <- par$control

d <- read.csv(args[1], stringsAsFactors = TRUE, na.strings = "")
impute <- as.matrix(read.csv(args[2])) == 1
scores <- colnames(impute)
where <- matrix(FALSE, nrow(d), ncol(d), dimnames = list(NULL, names(d)))
where[, scores] <- impute

# each score from arm, age, prior admissions and the other visits of the same score
visit_suffix <- paste0("_(", paste(par$frame_visits, collapse = "|"), ")$")
pred <- matrix(0, ncol(d), ncol(d), dimnames = list(names(d), names(d)))
for (col in scores) {
  own <- intersect(paste0(sub(visit_suffix, "", col), "_", par$frame_visits), scores)
  pred[col, c("TRT01PN", "AGE", "PRIORADM", setdiff(own, col))] <- 1
}
method <- ifelse(names(d) %in% scores & colSums(where) > 0, "pmm", "")
imp <- mice(d, m = as.integer(par$m), maxit = as.integer(par$maxit), method = method,
            predictorMatrix = pred, where = where, seed = as.integer(par$seed),
            printFlag = FALSE)

full <- function(x) if (is.numeric(x)) ifelse(is.na(x), "", sprintf("%.17g", x)) else
  as.character(x)
long <- complete(imp, "long", include = FALSE)
write.csv(data.frame(lapply(long, full), check.names = FALSE), args[4], row.names = FALSE,
          na = "")

rows <- list()
for (pcd in par$paramcds) for (v in par$visits) {
  strat <- paste(sprintf("factor(ifelse(is.na(%s), '', as.character(%s)))",
                         par$stratifiers, par$stratifiers), collapse = " + ")
  f <- as.formula(sprintf("%s_%s ~ I(ARM == '%s') + %s_baseline + %s",
                          pcd, v, trt, pcd, strat))
  # as with(imp, lm(...)), the formula built as text: lm on each completed dataset
  fit <- as.mira(lapply(seq_len(imp$m), function(i) lm(f, data = complete(imp, i))))
  pooled <- pool(fit)
  s <- summary(pooled, conf.int = TRUE)
  p <- pooled$pooled
  k <- 2  # the arm coefficient (treated - control)
  rows[[length(rows) + 1]] <- data.frame(
    paramcd = pcd, avisit = v, estimate = s$estimate[k], std_error = s$std.error[k],
    df = s$df[k], p_value = s$p.value[k], ci_low = s[k, "2.5 %"], ci_high = s[k, "97.5 %"],
    riv = p$riv[k], lambda = p$lambda[k], fmi = p$fmi[k], ubar = p$ubar[k], b = p$b[k],
    dfcom = p$dfcom[k], m = p$m[k])
}
out <- do.call(rbind, rows)
out[] <- lapply(out, full)
write.table(out, args[5], sep = "\t", row.names = FALSE, quote = FALSE)
