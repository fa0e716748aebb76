# glm on bootstrap resamples (tests/test_mediation_separation.py): for each resample `rep`
# the logistic regression yb ~ arm + m + x + site, once with glm's default control and once
# iterated to epsilon = 1e-15 (maxit 100), with whether glm.fit warned that fitted
# probabilities were numerically 0 or 1, its convergence flag and the largest |eta|.
# Usage: Rscript glm_separation.R rows.csv out.tsv
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit1 <- function(s, control) {
  w <- character(0)
  f <- withCallingHandlers(
    glm(yb ~ arm + m + x + site, family = binomial, data = s, control = control),
    warning = function(c) {
      w <<- c(w, conditionMessage(c))
      invokeRestart("muffleWarning")
    })
  c(any(grepl("fitted probabilities numerically 0 or 1", w)), f$converged,
    max(abs(f$linear.predictors)))
}
out <- do.call(rbind, lapply(sort(unique(d$rep)), function(b) {
  s <- d[d$rep == b, ]
  s$site <- factor(s$site)
  def <- fit1(s, glm.control())
  long <- fit1(s, glm.control(epsilon = 1e-15, maxit = 100))
  data.frame(rep = b, warn_default = def[1], converged_default = def[2], eta_default = def[3],
             warn_long = long[1], converged_long = long[2], eta_long = long[3])
}))
write.table(out, args[2], sep = "\t", row.names = FALSE, quote = FALSE)
