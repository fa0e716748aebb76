# The questionnaire ANCOVA of one score at one visit in R (docs/questionnaires.md):
# lm(AVAL ~ TRT + BASE + factor(stratifier)...), the adjusted mean of each arm as the
# average of predict() with every participant's arm set to that arm (its SE from the
# model matrix of that counterfactual data and vcov()), the raw SDs, and Hedges' g by the
# closed form (Hedges & Olkin 1985; Borenstein et al. 2009, eq. 4.20-4.26) with lm's SE
# of the difference. Sourced by oracle.R; run alone for tests/test_questionnaires_effects.py:
#
#   Rscript ancova.R data.csv STRAT1,STRAT2 out.tsv
#
# data.csv: AVAL, BASE, TRT (1 treated, 0 control) and the stratifier columns (text; an
# empty value is its own level, as the pipeline codes a missing stratifier).
ancova_effects <- function(d, strat) {
  for (s in strat) d[[s]] <- ifelse(is.na(d[[s]]), "", as.character(d[[s]]))
  varying <- strat[vapply(strat, function(s) length(unique(d[[s]])) > 1, logical(1))]
  rhs <- paste(c("TRT", "BASE", sprintf("factor(%s)", varying)), collapse = " + ")
  fit <- lm(as.formula(paste("AVAL ~", rhs)), d)
  df <- df.residual(fit)
  q <- qt(0.975, df)
  b <- coef(fit)[["TRT"]]; se_b <- sqrt(vcov(fit)["TRT", "TRT"])
  out <- data.frame(type = "adjusted_mean_difference", arm = "difference", estimate = b,
                    std_error = se_b, ci_low = confint(fit, "TRT")[1],
                    ci_high = confint(fit, "TRT")[2],
                    p_value = summary(fit)$coefficients["TRT", 4], n = nrow(d), df = df)
  for (a in c(1, 0)) {
    nd <- d; nd$TRT <- a
    X <- model.matrix(delete.response(terms(fit)), nd, xlev = fit$xlevels)
    xb <- colMeans(X)
    est <- mean(predict(fit, nd))
    se <- sqrt(drop(t(xb) %*% vcov(fit) %*% xb))
    out <- rbind(out, data.frame(type = "adjusted_mean", arm = if (a == 1) "treated" else
                                   "control", estimate = est, std_error = se,
                                 ci_low = est - q * se, ci_high = est + q * se, p_value = NA,
                                 n = sum(d$TRT == a), df = df))
  }
  nt <- sum(d$TRT == 1); nc <- sum(d$TRT == 0); n <- nt + nc
  sp <- sqrt(((nt - 1) * var(d$AVAL[d$TRT == 1]) + (nc - 1) * var(d$AVAL[d$TRT == 0])) /
               (n - 2))
  J <- 1 - 3 / (4 * (n - 2) - 1)
  dd <- b / sp
  se_g <- J * sqrt(se_b^2 / sp^2 + dd^2 / (2 * n))
  g <- J * dd
  out <- rbind(out, data.frame(type = "hedges_g", arm = "difference", estimate = g,
                               std_error = se_g, ci_low = g - q * se_g, ci_high = g + q * se_g,
                               p_value = NA, n = n, df = df))
  out$sd <- c(NA, sd(d$AVAL[d$TRT == 1]), sd(d$AVAL[d$TRT == 0]), sp)
  out
}

if (sys.nframe() == 0) {
  args <- commandArgs(trailingOnly = TRUE)
  d <- read.csv(args[1], stringsAsFactors = FALSE, na.strings = "NA")
  strat <- strsplit(args[2], ",", fixed = TRUE)[[1]]
  write.table(ancova_effects(d, strat), args[3], sep = "\t", row.names = FALSE,
              quote = FALSE, na = "NA")
}
